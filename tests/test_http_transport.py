"""The asyncio socket backend under httpx: TLS, connection reuse, servers that hang up, timeouts."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from swapcheck.http_transport import AsyncioTransport


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        if self.path == "/slow":
            self.server.release.wait(10)
        body = f"hello {self.path} on connection {id(self.connection)}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        if self.path == "/close":  # hang up after replying, without announcing it
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.release = threading.Event()
        self.closed = threading.Event()  # a connection's handler finished and closed it
        self.connections = 0
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_side=True)

    def get_request(self) -> Any:
        pair = super().get_request()
        self.connections += 1
        return pair

    def shutdown_request(self, request: Any) -> None:
        super().shutdown_request(request)
        self.closed.set()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


@pytest.fixture
def serve() -> Iterator[Any]:
    servers: list[_Server] = []

    def start(tls: ssl.SSLContext | None = None) -> _Server:
        server = _Server(tls)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.release.set()
        server.shutdown()
        server.server_close()


def _client(verify: ssl.SSLContext | None = None, timeout: float = 10.0) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=4, max_keepalive_connections=4)
    transport = AsyncioTransport(verify=verify or ssl.create_default_context(), limits=limits)
    return httpx.AsyncClient(transport=transport, timeout=timeout)


def _url(server: _Server, path: str, scheme: str = "http") -> str:
    return f"{scheme}://127.0.0.1:{server.server_address[1]}{path}"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:  # Debian ships it with ca-certificates; say so if it is missing
        pytest.skip("the openssl command is needed to make a throwaway certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


def test_plain_http_reuses_one_connection(serve: Any) -> None:
    server = serve()

    async def main() -> list[httpx.Response]:
        async with _client() as client:
            return [await client.get(_url(server, f"/{i}")) for i in range(5)]

    replies = asyncio.run(main())
    assert [r.status_code for r in replies] == [200] * 5
    assert replies[3].text.startswith("hello /3")
    assert server.connections == 1


def test_a_connection_the_server_closed_is_not_reused(serve: Any) -> None:
    server = serve()

    async def main() -> list[str]:
        async with _client() as client:
            first = await client.get(_url(server, "/close"))
            # the server has closed the socket (its FIN is on the way), as between two real
            # requests; the short sleep lets the client's event loop see it
            assert await asyncio.to_thread(server.closed.wait, 10)
            await asyncio.sleep(0.05)
            second = await client.get(_url(server, "/after"))
            return [first.text, second.text]

    first, second = asyncio.run(main())
    assert second.startswith("hello /after")
    assert server.connections == 2


def test_tls_with_a_trusted_certificate(serve: Any, certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert, key)
    server = serve(server_tls)
    trust = ssl.create_default_context(cafile=str(cert))

    async def main() -> tuple[list[int], Any]:
        async with _client(trust) as client:
            replies = [await client.get(_url(server, f"/{i}", "https")) for i in range(3)]
            stream = replies[0].extensions["network_stream"]
            return [r.status_code for r in replies], stream.get_extra_info("ssl_object")

    statuses, ssl_object = asyncio.run(main())
    assert statuses == [200, 200, 200]
    assert ssl_object is not None and ssl_object.version().startswith("TLS")
    assert server.connections == 1


def test_tls_with_an_untrusted_certificate_fails_to_connect(
    serve: Any, certificate: tuple[Path, Path]
) -> None:
    cert, key = certificate
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert, key)
    server = serve(server_tls)

    async def main() -> None:
        async with _client(ssl.create_default_context()) as client:
            await client.get(_url(server, "/", "https"))

    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED|certificate"):
        asyncio.run(main())


def test_read_timeout_and_refused_connection_map_to_httpx_errors(serve: Any) -> None:
    server = serve()
    closed = _Server()
    port = closed.server_address[1]
    closed.server_close()  # nothing listens there any more

    async def slow() -> None:
        async with _client(timeout=0.2) as client:
            await client.get(_url(server, "/slow"))

    async def refused() -> None:
        async with _client() as client:
            await client.get(f"http://127.0.0.1:{port}/")

    with pytest.raises(httpx.ReadTimeout):
        asyncio.run(slow())
    with pytest.raises(httpx.ConnectError):
        asyncio.run(refused())
