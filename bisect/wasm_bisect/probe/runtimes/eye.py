"""A page for a person to look at: one built variant served with the reproducer's own page (issue 25, item 2).

The page (a template's `page`, or `--page PATH` in crate mode) is served at `/`, the web files next to it
(scripts, styles, images, data: never sources, build output or the tool's own) under their relative paths, and
the variant's wasm-pack output under `/pkg/`, so a page that imports `./pkg/NAME.js` finds the cell's build.
Nothing else: the server is the browser check's (`server.serve`: 127.0.0.1, an ephemeral port, the Host header
checked, no directory listing), with the page's reports refused.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from wasm_bisect.probe.runtimes import server

# Files next to the page that a page may load: web assets, never sources or manifests.
WEB_SUFFIXES = (".html", ".htm", ".js", ".mjs", ".css", ".json", ".wasm", ".png", ".jpg", ".jpeg", ".gif", ".svg",
                ".webp", ".ico", ".txt", ".bin")
# Directories beside the page that are never served: build output, sources, the tool's and VCS's own.
NOT_SERVED = ("target", "src", ".cargo", "node_modules", "pkg", ".git", "logs")
MAX_FILES = 2000  # a page directory past this is walked no further: the page is served with what was found
PKG_PREFIX = "/pkg/"
EXTRA_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
               ".svg": "image/svg+xml", ".webp": "image/webp", ".ico": "image/x-icon",
               ".htm": "text/html; charset=utf-8"}


def _content_type(rel: str) -> str:
    return EXTRA_TYPES.get(Path(rel).suffix.lower()) or server.content_type(rel)


def _files_under(root: Path, *, skip_dirs: tuple[str, ...], suffixes: tuple[str, ...] | None) -> dict[str, Path]:
    """Plain files under `root` (no symlinks, nothing outside it), by relative POSIX path."""
    found: dict[str, Path] = {}
    stack = [root]
    while stack and len(found) < MAX_FILES:
        directory = stack.pop()
        try:
            entries = sorted(directory.iterdir())
        except OSError:
            continue
        for entry in entries:
            if entry.is_symlink():
                continue
            if entry.is_dir():
                if entry.name not in skip_dirs and not entry.name.startswith("."):
                    stack.append(entry)
            elif entry.is_file() and (suffixes is None or entry.suffix.lower() in suffixes):
                found[entry.relative_to(root).as_posix()] = entry
    return found


def page_routes(page: Path, pkg_dir: Path) -> dict[str, tuple[bytes | Path, str]]:
    """URL path -> file: the page at `/` (and under its own name), the web files beside it, `pkg_dir` at /pkg/."""
    routes: dict[str, tuple[bytes | Path, str]] = {}
    for rel, path in _files_under(page.parent, skip_dirs=NOT_SERVED, suffixes=WEB_SUFFIXES).items():
        routes["/" + rel] = (path, _content_type(rel))
    for rel, path in _files_under(pkg_dir, skip_dirs=(), suffixes=None).items():
        routes[PKG_PREFIX + rel] = (path, _content_type(rel))
    routes["/"] = (page, "text/html; charset=utf-8")
    routes["/" + page.name] = (page, "text/html; charset=utf-8")
    return routes


@contextlib.contextmanager
def serve_page(page: Path, pkg_dir: Path) -> Iterator[str]:
    """Serve `page` with the variant's `pkg_dir` on 127.0.0.1 (an ephemeral port) while the `with` block runs;
    yields the page's URL. After the block the port is closed: the URL refuses connections."""
    with server.serve(page_routes(page, pkg_dir), server.PageState(None), reports=False) as url:
        yield url
