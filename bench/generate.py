"""Generation engine throughput at high concurrency: sharded httpx pool vs one client.

Starts ``tests/fault_server.py`` (asyncio, no faults) **in a child process** answering each request
after a simulated latency (1 s), then, in this process, runs the real engine
(``swapcheck.generate.generate_async``, provider ``openai`` pointed at the loopback URL, a no-op
sink, ``max_retries=0``) at each concurrency level c (16, 64, 256; 8 x c requests each, so 2,048
at 256; the other modes at most ``--baseline-max-jobs``, 512) in two client modes, one after the
other in the same run:

* ``engine``  - the engine's own sharded pool (``swapcheck.http_pool``, 8 connections/client);
* ``single``  - baseline: the engine with one ``httpx.AsyncClient(max_connections=c)`` passed in.

Optional modes (``--modes``): ``raw`` - bare httpx, one client, no engine; ``threads`` - c threads
with keep-alive ``http.client`` connections (what the server alone can do). ``--sink duckdb`` swaps
the no-op sink for ``write_responses`` into a real DuckDB file (``Store(linger=0)``, as the CLI).

Printed per level and mode: achieved requests/s as a fraction of ideal (c / latency) and client
CPU ms per request (``time.process_time()`` of this process; the server's CPU is not counted).
Targets: >= 0.95 of ideal at c=64, >= 0.90 at c=256, <= 2 ms CPU per request (printed, not
asserted). The last line is one JSON object with the figures.

    /work/venv/bin/python bench/generate.py                      # ~1-2 minutes
    /work/venv/bin/python bench/generate.py --concurrency 64 --modes engine single raw threads
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

REPO_ROOT = Path(__file__).resolve().parents[1]
for path in (REPO_ROOT, REPO_ROOT / "src"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import httpx  # noqa: E402
from _table import print_table  # noqa: E402  (bench/ is on sys.path when run as a script)

from swapcheck.generate import GenerationSettings, generate_async  # noqa: E402
from swapcheck.models import GenerationJob, ResponseRecord, VariantConfig  # noqa: E402

FILLER = (
    "My order arrived damaged and the replacement has not shipped yet, could you check the "
    "status, tell me when it will arrive and whether I can get a partial refund for the delay? "
)
TARGETS = {16: None, 64: 0.95, 256: 0.90}
CPU_TARGET_MS = 2.0


def make_jobs(n: int, tag: str, chars: int) -> list[GenerationJob]:
    body = (FILLER * (chars // len(FILLER) + 1))[:chars]
    return [
        GenerationJob(f"p_{tag}_{i:06d}", [{"role": "user", "content": f"[{tag} #{i}] {body}"}])
        for i in range(n)
    ]


# --- the server, in a child process -----------------------------------------------------------


def serve(latency_s: float) -> None:
    """Child-process mode: run the asyncio fake server, print its URL, stop when stdin closes."""
    from tests.fault_server import FaultServer

    server = FaultServer(latency_s=latency_s).start()
    print(server.base_url, flush=True)
    sys.stdin.read()
    server.stop()


class ChildServer:
    def __init__(self, latency_s: float) -> None:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--serve", str(latency_s)]
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO_ROOT
        )
        assert self.proc.stdout is not None
        self.base_url = self.proc.stdout.readline().strip()
        if not self.base_url.startswith("http://127.0.0.1:"):
            self.close()
            raise SystemExit("the loopback server did not start")

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


# --- client modes -----------------------------------------------------------------------------


@dataclass
class Result:
    jobs: int
    ok: int
    elapsed_s: float
    cpu_s: float

    def efficiency(self, concurrency: int, latency_s: float) -> float:
        return (self.jobs / self.elapsed_s) / (concurrency / latency_s)

    @property
    def cpu_ms_per_request(self) -> float:
        return self.cpu_s / self.jobs * 1000.0


def measure(run: Callable[[], int], jobs: int) -> Result:
    wall, cpu = time.perf_counter(), time.process_time()
    ok = run()
    return Result(jobs, ok, time.perf_counter() - wall, time.process_time() - cpu)


def make_sink(kind: str, tmp: Path) -> Callable[[list[ResponseRecord]], None]:
    if kind == "none":
        return lambda batch: None
    from swapcheck.store import Store
    from swapcheck.store.responses import write_responses

    store = Store(tmp / "bench.duckdb", linger=0)
    return lambda batch: write_responses(store, batch)


def run_engine(base_url: str, jobs: list[GenerationJob], c: int, single: bool, sink: Any) -> int:
    variant = VariantConfig(f"bench-c{c}", "openai", "bench-model", base_url, "NO_KEY")
    settings = GenerationSettings(concurrency=c, max_retries=0, timeout_s=60.0, flush_every=100)

    async def main() -> int:
        if not single:
            report = await generate_async(variant, jobs, sink, settings=settings)
            return report.succeeded
        limits = httpx.Limits(max_connections=c, max_keepalive_connections=c)
        async with httpx.AsyncClient(timeout=httpx.Timeout(60.0), limits=limits) as client:
            report = await generate_async(variant, jobs, sink, settings=settings, client=client)
        return report.succeeded

    return asyncio.run(main())


def run_raw_httpx(url: str, jobs: list[GenerationJob], c: int) -> int:
    async def main() -> int:
        limits = httpx.Limits(max_connections=c, max_keepalive_connections=c)
        ok, index = 0, 0
        async with httpx.AsyncClient(timeout=httpx.Timeout(60.0), limits=limits) as client:

            async def worker() -> None:
                nonlocal ok, index
                while index < len(jobs):
                    job = jobs[index]
                    index += 1
                    body = {"model": "bench-model", "messages": job.messages}
                    response = await client.post(url, json=body)
                    ok += response.status_code == 200 and bool(response.json()["choices"])

            await asyncio.gather(*(worker() for _ in range(min(c, len(jobs)))))
        return ok

    return asyncio.run(main())


def run_threads(url: str, jobs: list[GenerationJob], c: int) -> int:
    parts = urlsplit(url)
    lock = threading.Lock()
    queue = list(reversed(jobs))
    ok = [0]

    def worker() -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        try:
            while True:
                with lock:
                    if not queue:
                        return
                    job = queue.pop()
                body = json.dumps({"model": "bench-model", "messages": job.messages})
                conn.request("POST", parts.path, body, {"Content-Type": "application/json"})
                response = conn.getresponse()
                payload = response.read()
                with lock:
                    ok[0] += response.status == 200 and bool(json.loads(payload)["choices"])
        finally:
            conn.close()

    threads = [threading.Thread(target=worker) for _ in range(min(c, len(jobs)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return ok[0]


def run_mode(
    mode: str, base_url: str, jobs: list[GenerationJob], c: int, sink: Any
) -> Callable[[], int]:
    """The client run for ``mode`` as a no-argument callable (what ``measure`` times)."""
    if mode in ("engine", "single"):
        return lambda: run_engine(base_url, jobs, c, mode == "single", sink)
    url = f"{base_url}/chat/completions"
    if mode == "raw":
        return lambda: run_raw_httpx(url, jobs, c)
    return lambda: run_threads(url, jobs, c)


# --- main -------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--latency", type=float, default=1.0, help="server latency, s (1.0)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[16, 64, 256])
    parser.add_argument("--rounds", type=int, default=8, help="requests per level = rounds x c")
    parser.add_argument("--prompt-chars", type=int, default=400, help="prompt length (400)")
    parser.add_argument(
        "--modes",
        nargs="+",
        choices=("engine", "single", "raw", "threads"),
        default=["engine", "single"],
    )
    parser.add_argument(
        "--baseline-max-jobs",
        type=int,
        default=512,
        help="cap on requests per level for the modes other than engine: one httpx pool at "
        "c=256 burns tens of ms of CPU per request (512)",
    )
    parser.add_argument("--sink", choices=("none", "duckdb"), default="none")
    parser.add_argument("--serve", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve is not None:
        serve(args.serve)
        return 0

    latency = args.latency
    print(
        f"server latency {latency:g} s in a child process (asyncio), sink {args.sink}, "
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, httpx {httpx.__version__}, "
        f"load average {os.getloadavg()[0]:.2f} (figures are noisy on a shared machine)",
        flush=True,
    )
    server = ChildServer(latency)
    results: dict[tuple[int, str], Result] = {}
    with tempfile.TemporaryDirectory(prefix="swapcheck-genbench-") as tmp:
        sink = make_sink(args.sink, Path(tmp))
        try:
            run_engine(server.base_url, make_jobs(16, "warm", args.prompt_chars), 16, False, sink)
            for c in args.concurrency:
                for mode in args.modes:
                    n = args.rounds * c
                    if mode != "engine":
                        n = min(n, max(c, args.baseline_max_jobs))
                    jobs = make_jobs(n, f"{mode}{c}", args.prompt_chars)
                    res = measure(run_mode(mode, server.base_url, jobs, c, sink), n)
                    results[(c, mode)] = res
                    if res.ok != n:
                        print(f"  warning: {mode} c={c}: {n - res.ok} requests failed")
                    print(
                        f"  c={c} {mode}: {res.efficiency(c, latency):.3f} of ideal, "
                        f"{res.cpu_ms_per_request:.2f} ms CPU/request",
                        flush=True,
                    )
        finally:
            server.close()

    labels = {
        "engine": "engine (sharded pool)",
        "single": "engine, one httpx client",
        "raw": "raw httpx (no engine)",
        "threads": "threads (server alone)",
    }
    rows = []
    for (c, mode), res in results.items():
        eff = res.efficiency(c, latency)
        base = results.get((c, "single"))
        ratio = eff / base.efficiency(c, latency) if base and mode != "single" else None
        target = TARGETS.get(c)
        rows.append(
            [
                f"c={c}",
                labels[mode],
                f"{res.jobs}",
                f"{res.elapsed_s:.2f}",
                f"{res.jobs / res.elapsed_s:,.0f}",
                f"{c / latency:,.0f}",
                f"{eff:.3f}",
                f">= {target:.2f}" if target and mode == "engine" else "",
                f"{ratio:.2f}x" if ratio else "",
                f"{res.cpu_ms_per_request:.2f}",
            ]
        )
    print_table(
        f"Throughput (ideal = c / {latency:g} s; CPU = this process only; target CPU "
        f"<= {CPU_TARGET_MS:g} ms/request)",
        [
            "level",
            "client",
            "jobs",
            "seconds",
            "req/s",
            "ideal",
            "of ideal",
            "target",
            "vs single",
            "CPU ms/req",
        ],
        rows,
    )

    summary: dict[str, Any] = {}
    engine = [(c, r) for (c, m), r in results.items() if m == "engine"]
    for c, res in engine:
        summary[f"efficiency_c{c}"] = round(res.efficiency(c, latency), 4)
    if engine:
        cpu = sum(r.cpu_s for _, r in engine) / sum(r.jobs for _, r in engine) * 1000.0
        summary["cpu_ms_per_request"] = round(cpu, 3)
        summary["cpu_ms_per_request_max_level"] = round(
            max(r.cpu_ms_per_request for _, r in engine), 3
        )
    for (c, mode), res in results.items():
        if mode != "engine":
            summary[f"{mode}_efficiency_c{c}"] = round(res.efficiency(c, latency), 4)
            summary[f"{mode}_cpu_ms_per_request_c{c}"] = round(res.cpu_ms_per_request, 3)
    summary["latency_s"] = latency
    summary["load_average_1m"] = round(os.getloadavg()[0], 2)
    print(json.dumps(summary, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
