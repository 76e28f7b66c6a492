"""The in-process web server of a browser check: 127.0.0.1 on an ephemeral port, serving one variant's page.

It serves exactly the files it is given (the runner page, the check module and the wasm-pack output), nothing
else, and receives what the page reports: its console lines and errors, and the check's exit code.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

LOG_PATH = "/__wasm_bisect/log"
DONE_PATH = "/__wasm_bisect/done"
MAX_POST_BYTES = 1 << 20
CONTENT_TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm",
                 ".json": "application/json", ".html": "text/html; charset=utf-8", ".css": "text/css",
                 ".txt": "text/plain; charset=utf-8", ".map": "application/json"}


class PageState:
    """What the page reported so far (filled by the server's threads, read by the driver)."""

    def __init__(self, log: Path | None) -> None:
        self.lines: list[str] = []
        self.exit_code: int | None = None
        self.finished = threading.Event()
        self._lock = threading.Lock()
        self._log = log

    def add_line(self, text: str) -> None:
        with self._lock:
            self.lines.append(text)
            self._write(text)

    def note(self, text: str) -> None:
        """A line of the tool's own for the log only: never matched against the failure signature."""
        with self._lock:
            self._write(text)

    def _write(self, text: str) -> None:
        if self._log is not None:
            with contextlib.suppress(OSError), self._log.open("a", encoding="utf-8") as handle:
                handle.write(text + "\n")

    def finish(self, code: int) -> None:
        with self._lock:
            if self.exit_code is None:
                self.exit_code = code
        self.finished.set()

    def output(self) -> str:
        with self._lock:
            return "\n".join(self.lines)


class _Handler(BaseHTTPRequestHandler):
    """GET of an allowed path, POST of a log line or the exit code; everything else is refused."""

    routes: ClassVar[Mapping[str, tuple[bytes | Path, str]]] = {}
    state: ClassVar[PageState]
    host: ClassVar[str] = ""
    reports: ClassVar[bool] = True  # False: a page for a person only, whose reports nothing reads

    def log_message(self, format: str, *args: object) -> None:
        pass  # the page's own log is what matters; requests are not worth a line each

    def _refuse(self, status: HTTPStatus) -> None:
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _host_ok(self) -> bool:
        # Only our own origin: a page from elsewhere (DNS rebinding) cannot read the variant or report for it.
        return self.headers.get("Host", "") == self.host

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        route = self.routes.get(path)
        if route is None or not self._host_ok():
            self._refuse(HTTPStatus.NOT_FOUND)
            return
        body, content_type = route
        try:
            data = body.read_bytes() if isinstance(body, Path) else body
        except OSError:
            self._refuse(HTTPStatus.NOT_FOUND)
            return
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if self.path not in (LOG_PATH, DONE_PATH) or not self.reports or not self._host_ok() or \
                not 0 <= length <= MAX_POST_BYTES:
            self._refuse(HTTPStatus.FORBIDDEN)
            return
        text = self.rfile.read(length).decode("utf-8", errors="replace")
        if self.path == LOG_PATH:
            self.state.add_line(text)
        else:
            try:
                code = int(text.strip())
            except ValueError:
                code = 128
            self.state.finish(code)
        self._refuse(HTTPStatus.NO_CONTENT)


def content_type(name: str) -> str:
    return CONTENT_TYPES.get(Path(name).suffix.lower(), "application/octet-stream")


def routes_for(*, page: bytes, runner: bytes, files: Mapping[str, Path]) -> dict[str, tuple[bytes | Path, str]]:
    """URL path -> content: the page at `/`, the runner, and each given file at `/<relative path>`."""
    out: dict[str, tuple[bytes | Path, str]] = {
        "/": (page, "text/html; charset=utf-8"),
        "/__wasm_bisect/runner.js": (runner, "text/javascript"),
    }
    for rel, path in files.items():
        out["/" + rel] = (path, content_type(rel))
    return out


@contextlib.contextmanager
def serve(routes: Mapping[str, tuple[bytes | Path, str]], state: PageState, *, reports: bool = True) -> Iterator[str]:
    """Serve `routes` on 127.0.0.1 (an ephemeral port) for the `with` block; yields the page's URL. `reports`
    False: every POST is refused (a page for a person to look at)."""
    handler: type[_Handler] = type("PageHandler", (_Handler,), {"routes": dict(routes), "state": state,
                                                                "reports": reports})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    port = server.server_address[1]
    handler.host = f"127.0.0.1:{port}"
    thread = threading.Thread(target=server.serve_forever, name="page-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
