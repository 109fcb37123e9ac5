"""Generation throughput benchmark: swapcheck's engine against a fake OpenAI server.

Starts ``tests/fake_openai_server.py`` (in a child process by default, so the server and the
client do not share one GIL; ``--server thread`` runs it in this process) with a fixed
per-request latency (default 50 ms), then, for each concurrency level (default 1, 8, 32, 64):

* ``swapcheck``  - ``swapcheck.generate.generate`` with an ``openai`` variant pointed at the fake
  server and a sink that persists every batch with ``store.responses.write_responses`` into a
  real DuckDB file (``Store(linger=0)``, as the CLI opens it);
* ``raw httpx``  - the same requests from a bare ``httpx.AsyncClient`` (same pool limits),
  no engine and no persistence: what httpx + the server can do;
* ``threads``    - a plain client: one thread per slot, each with a keep-alive
  ``http.client.HTTPConnection``: what the fake server alone can do.

It prints achieved requests/s against the ideal ``concurrency / latency`` and the per-request
overhead, ``elapsed * concurrency / jobs - latency``: the time each slot spends per request
beyond the server's sleep (client, server and persistence CPU, queueing). Then ceilings without
HTTP: the ``simulated`` provider and a no-op provider, both through ``generate`` with the same
DuckDB sink (the no-op figure is the engine + persistence cost per request).

At 50 ms and concurrency 1, 2000 jobs take 100 s, so each level runs
``min(--jobs, max(--min-jobs, --rounds * concurrency))`` jobs (50, 120, 480, 960 by default);
``--rounds 0`` runs all ``--jobs`` at every level. The ceilings always run ``--jobs`` jobs.

    /work/venv/bin/python bench/generate_bench.py                 # ~50 s
    /work/venv/bin/python bench/generate_bench.py --latency 20 --concurrency 16 128
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import httpx  # noqa: E402
from _table import print_table  # noqa: E402  (bench/ is on sys.path when run as a script)

from swapcheck.generate import GenerationSettings, generate  # noqa: E402
from swapcheck.models import GenerationJob, ResponseRecord, VariantConfig  # noqa: E402
from swapcheck.providers.base import Completion  # noqa: E402
from swapcheck.store import Store  # noqa: E402
from swapcheck.store.responses import write_responses  # noqa: E402

FILLER = (
    "My order arrived damaged and the replacement has not shipped yet, could you check the "
    "status, tell me when it will arrive and whether I can get a partial refund for the delay? "
)


def make_jobs(n: int, tag: str, chars: int) -> list[GenerationJob]:
    body = (FILLER * (chars // len(FILLER) + 1))[:chars]
    return [
        GenerationJob(
            prompt_id=f"p_{tag}_{i:06d}",
            messages=[{"role": "user", "content": f"[{tag} #{i}] {body}"}],
        )
        for i in range(n)
    ]


# --- the fake server ------------------------------------------------------------------------


def start_fake_server(latency_s: float, backlog: int) -> Any:
    """Start ``FakeOpenAIServer``; ``backlog`` overrides socketserver's listen() queue of 5."""
    import tests.fake_openai_server as fake

    fake._QuietServer.request_queue_size = backlog  # bench-only tweak of the test server
    return fake.FakeOpenAIServer(latency_s=latency_s).start()


def serve_forever(latency_s: float, backlog: int) -> None:
    """Child-process mode: run the fake server, print its URL, stop when stdin closes."""
    server = start_fake_server(latency_s, backlog)
    print(server.base_url, flush=True)
    sys.stdin.read()
    server.stop()


class ServerHandle:
    """The fake server, in a child process (default) or in a thread of this process."""

    def __init__(self, latency_s: float, mode: str, backlog: int) -> None:
        self.mode = mode
        self._proc: subprocess.Popen[str] | None = None
        self._server: Any = None
        if mode == "thread":
            self._server = start_fake_server(latency_s, backlog)
            self.base_url: str = self._server.base_url
        else:
            here = str(Path(__file__).resolve())
            cmd = [sys.executable, here, "--backlog", str(backlog), "--serve", str(latency_s)]
            self._proc = subprocess.Popen(
                cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
            )
            assert self._proc.stdout is not None
            self.base_url = self._proc.stdout.readline().strip()
            if not self.base_url.startswith("http://127.0.0.1:"):
                raise SystemExit("the fake server did not start")

    def close(self) -> None:
        if self._server is not None:
            self._server.stop()
        if self._proc is not None:
            assert self._proc.stdin is not None
            self._proc.stdin.close()
            self._proc.wait(timeout=10)


# --- clients --------------------------------------------------------------------------------


@dataclass
class Result:
    jobs: int
    elapsed_s: float
    ok: int
    sink_calls: int = 0
    sink_s: float = 0.0

    @property
    def rps(self) -> float:
        return self.jobs / self.elapsed_s


class TimedSink:
    """``write_responses`` into a real DuckDB store, timed."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.calls = 0
        self.seconds = 0.0
        self.rows = 0

    def __call__(self, records: list[ResponseRecord]) -> None:
        started = time.perf_counter()
        write_responses(self.store, records)
        self.seconds += time.perf_counter() - started
        self.calls += 1
        self.rows += len(records)


def run_swapcheck(
    variant: VariantConfig,
    jobs: list[GenerationJob],
    store: Store,
    concurrency: int,
    provider: Any = None,
) -> Result:
    sink = TimedSink(store)
    settings = GenerationSettings(concurrency=concurrency, max_retries=0, timeout_s=30.0)
    started = time.perf_counter()
    report = generate(variant, jobs, sink, settings=settings, provider=provider)
    elapsed = time.perf_counter() - started
    if sink.rows != len(jobs):
        raise SystemExit(f"sink saw {sink.rows} records for {len(jobs)} jobs")
    return Result(len(jobs), elapsed, report.succeeded, sink.calls, sink.seconds)


def run_raw_httpx(url: str, jobs: list[GenerationJob], concurrency: int) -> Result:
    async def main() -> Result:
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        ok = 0
        index = 0
        async with httpx.AsyncClient(timeout=httpx.Timeout(30.0), limits=limits) as client:

            async def worker() -> None:
                nonlocal ok, index
                while index < len(jobs):
                    job = jobs[index]
                    index += 1
                    body = {"model": "bench-model", "messages": job.messages}
                    response = await client.post(url, json=body)
                    ok += response.status_code == 200 and bool(response.json()["choices"])

            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(min(concurrency, len(jobs)))))
            return Result(len(jobs), time.perf_counter() - started, ok)

    return asyncio.run(main())


def run_threads(url: str, jobs: list[GenerationJob], concurrency: int) -> Result:
    parts = urlsplit(url)
    lock = threading.Lock()
    queue = list(reversed(jobs))
    ok = [0]

    def worker() -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
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

    threads = [threading.Thread(target=worker) for _ in range(min(concurrency, len(jobs)))]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return Result(len(jobs), time.perf_counter() - started, ok[0])


class NoopProvider:
    """Answers instantly with a fixed text: isolates the engine and the sink."""

    async def complete(self, messages: Any, client: httpx.AsyncClient) -> Completion:
        return Completion(text="ok", finish_reason="stop", input_tokens=10, output_tokens=1)


# --- report ---------------------------------------------------------------------------------


def overhead_ms(result: Result, concurrency: int, latency_s: float) -> float:
    """Per-request time a slot spends beyond the server latency."""
    slots = min(concurrency, result.jobs)
    return (result.elapsed_s * slots / result.jobs - latency_s) * 1000.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--jobs", type=int, default=2000, help="jobs per level (2000)")
    parser.add_argument("--latency", type=float, default=50.0, help="server latency, ms (50)")
    parser.add_argument(
        "--concurrency", type=int, nargs="+", default=[1, 8, 32, 64], help="levels (1 8 32 64)"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=15,
        help="cap each level at rounds x concurrency jobs (at least --min-jobs); 0 = no cap (15)",
    )
    parser.add_argument("--min-jobs", type=int, default=50, help="see --rounds (50)")
    parser.add_argument("--prompt-chars", type=int, default=400, help="prompt length (400)")
    parser.add_argument(
        "--server",
        choices=("process", "thread"),
        default="process",
        help="run the fake server in a child process (default) or a thread of this process",
    )
    parser.add_argument(
        "--clients",
        nargs="+",
        choices=("swapcheck", "httpx", "threads"),
        default=["swapcheck", "httpx", "threads"],
    )
    parser.add_argument(
        "--backlog",
        type=int,
        default=128,
        help="fake server listen() backlog; socketserver's default is 5 (128)",
    )
    parser.add_argument(
        "--cache-sniffio-miss",
        action="store_true",
        help="set sys.modules['sniffio'] = None, so httpcore's per-call 'import sniffio' fails "
        "fast instead of searching sys.path (what installing sniffio would also fix)",
    )
    parser.add_argument("--serve", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve is not None:
        serve_forever(args.serve, args.backlog)
        return 0

    latency_s = args.latency / 1000.0
    if args.cache_sniffio_miss and "sniffio" not in sys.modules:
        sys.modules["sniffio"] = None  # type: ignore[assignment]
    try:
        import sniffio  # noqa: F401

        sniffio_state = "installed"
    except ImportError:
        sniffio_state = "missing (cached miss)" if args.cache_sniffio_miss else "missing"
    print(
        f"fake server latency {args.latency:g} ms, server in a {args.server}, "
        f"listen backlog {args.backlog}, sniffio {sniffio_state}, "
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, httpx {httpx.__version__}"
    )
    with tempfile.TemporaryDirectory(prefix="swapcheck-genbench-") as tmp:
        store = Store(Path(tmp) / "bench.duckdb", linger=0)
        server = ServerHandle(latency_s, args.server, args.backlog)
        url = f"{server.base_url}/chat/completions"
        rows: list[list[str]] = []
        sink_rows: list[list[str]] = []
        try:
            # Warm-up: imports, connection set-up, DuckDB file creation.
            warm = VariantConfig("bench-warm", "openai", "bench-model", server.base_url, "NO_KEY")
            run_swapcheck(warm, make_jobs(8, "warm", args.prompt_chars), store, 8)
            for c in args.concurrency:
                n = args.jobs
                if args.rounds > 0:
                    n = min(n, max(args.min_jobs, args.rounds * c))
                ideal = c / latency_s
                results: dict[str, Result] = {}
                if "swapcheck" in args.clients:
                    variant = VariantConfig(
                        f"bench-c{c}", "openai", "bench-model", server.base_url, "NO_KEY"
                    )
                    jobs = make_jobs(n, f"sc{c}", args.prompt_chars)
                    results["swapcheck"] = res = run_swapcheck(variant, jobs, store, c)
                    sink_rows.append(
                        [
                            f"openai c={c}",
                            f"{res.sink_calls}",
                            f"{n / max(res.sink_calls, 1):.0f}",
                            f"{res.sink_s / max(res.sink_calls, 1) * 1000:.1f}",
                            f"{res.sink_s / res.jobs * 1000:.2f}",
                            f"{res.sink_s / res.elapsed_s:.0%}",
                        ]
                    )
                if "httpx" in args.clients:
                    results["raw httpx"] = run_raw_httpx(url, make_jobs(n, f"hx{c}", 400), c)
                if "threads" in args.clients:
                    results["threads"] = run_threads(url, make_jobs(n, f"th{c}", 400), c)
                for name, res in results.items():
                    if res.ok != res.jobs:
                        print(f"  warning: {name} c={c}: {res.jobs - res.ok} requests failed")
                    rows.append(
                        [
                            f"c={c}",
                            name,
                            f"{n}",
                            f"{res.elapsed_s:.2f}",
                            f"{res.rps:,.0f}",
                            f"{ideal:,.0f}",
                            f"{res.rps / ideal:.0%}",
                            f"{overhead_ms(res, c, latency_s):.2f}",
                        ]
                    )
                print(f"  c={c}: done", flush=True)
        finally:
            server.close()

        print_table(
            f"Throughput over HTTP (ideal = concurrency / {args.latency:g} ms)",
            [
                "level",
                "client",
                "jobs",
                "seconds",
                "req/s",
                "ideal req/s",
                "of ideal",
                "overhead ms/req",
            ],
            rows,
        )

        ceiling_rows: list[list[str]] = []
        n = args.jobs
        for label, variant, provider in (
            ("simulated provider", VariantConfig("bench-sim", "simulated", "sim-1"), None),
            ("no-op provider", VariantConfig("bench-noop", "simulated", "noop"), NoopProvider()),
        ):
            res = run_swapcheck(
                variant, make_jobs(n, label[:3], args.prompt_chars), store, 8, provider
            )
            ceiling_rows.append(
                [
                    label,
                    f"{n}",
                    f"{res.elapsed_s:.2f}",
                    f"{res.rps:,.0f}",
                    f"{res.elapsed_s / n * 1000:.3f}",
                    f"{res.sink_s / n * 1000:.3f}",
                ]
            )
            sink_rows.append(
                [
                    label,
                    f"{res.sink_calls}",
                    f"{n / max(res.sink_calls, 1):.0f}",
                    f"{res.sink_s / max(res.sink_calls, 1) * 1000:.1f}",
                    f"{res.sink_s / res.jobs * 1000:.2f}",
                    f"{res.sink_s / res.elapsed_s:.0%}",
                ]
            )
        store.close()

    print_table(
        "Ceilings without HTTP (generate(), concurrency 8, same DuckDB sink)",
        ["provider", "jobs", "seconds", "req/s", "ms/req (wall)", "of which sink ms/req"],
        ceiling_rows,
    )
    print_table(
        "Persistence (write_responses into DuckDB, Store(linger=0): reopens the file per batch)",
        ["run", "sink calls", "rows/call", "ms/call", "ms/request", "of run time"],
        sink_rows,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
