"""The page for a person (issue 25 item 2): what the page server serves, and only while it is open. The server
is a thread of this process on 127.0.0.1; nothing is built or started."""

from __future__ import annotations

import http.client
import urllib.parse
from pathlib import Path

import pytest

from wasm_bisect.cli._prompt import Terminal, judge
from wasm_bisect.domain.errors import TemplateError, UsageError
from wasm_bisect.domain.model import BindgenSource, Outcome, Terms, ToolchainSpec, Variant, Verdict
from wasm_bisect.probe import templates
from wasm_bisect.probe.runtimes import eye
from wasm_bisect.runs import serve
from wasm_bisect.store import Store

CELL = Variant(template="canvas-imagedata", rustc=ToolchainSpec.parse("debian:1.96.0"),
               bindgen=BindgenSource.crates("0.2.95"))


def _crate(tmp_path: Path) -> Path:
    crate = tmp_path / "crate"
    for rel, text in {"index.html": "<canvas></canvas>", "style.css": "p{}", "img/logo.svg": "<svg/>",
                      "Cargo.toml": "[package]", "src/lib.rs": "fn main() {}", "template.toml": "name='x'",
                      "target/debug/x.js": "secret", "pkg/app.js": "export default 1;", "pkg/app_bg.wasm": "\0asm",
                      "pkg/snippets/a/inline0.js": "x"}.items():
        (crate / rel).parent.mkdir(parents=True, exist_ok=True)
        (crate / rel).write_text(text)
    return crate


def _get(url: str, path: str, host: str | None = None) -> int:
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=5)
    try:
        conn.request("GET", path, headers={"Host": host} if host else {})
        return conn.getresponse().status
    finally:
        conn.close()


def test_only_the_page_its_web_files_and_the_build_are_served(tmp_path: Path) -> None:
    crate = _crate(tmp_path)
    routes = eye.page_routes(crate / "index.html", crate / "pkg")
    assert set(routes) == {"/", "/index.html", "/style.css", "/img/logo.svg", "/pkg/app.js", "/pkg/app_bg.wasm",
                           "/pkg/snippets/a/inline0.js"}
    assert routes["/pkg/app_bg.wasm"][1] == "application/wasm" and routes["/img/logo.svg"][1] == "image/svg+xml"


def test_the_page_is_served_while_open_for_its_own_host_only_and_refused_after(tmp_path: Path) -> None:
    crate = _crate(tmp_path)
    with eye.serve_page(crate / "index.html", crate / "pkg") as url:
        assert url.startswith("http://127.0.0.1:")
        assert _get(url, "/") == 200 and _get(url, "/pkg/app.js") == 200
        for hidden in ("/Cargo.toml", "/src/lib.rs", "/template.toml", "/target/debug/x.js", "/pkg/", "/../x"):
            assert _get(url, hidden) == 404, hidden
        assert _get(url, "/", host="evil.example:80") == 404  # DNS rebinding
        parts = urllib.parse.urlsplit(url)
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=5)
        conn.request("POST", "/__wasm_bisect/log", body=b"x")
        assert conn.getresponse().status == 403  # a page for a person reports nothing
        conn.close()
    with pytest.raises(ConnectionRefusedError):
        _get(url, "/")


def test_prompt_shows_the_page_url_while_asking_and_stops_it_after(tmp_path: Path) -> None:
    crate = _crate(tmp_path)
    tmpl = templates.load("canvas-imagedata")
    assert tmpl.page == "index.html"
    outcome = Outcome(verdict=Verdict.BAD, reason="detached", crate_dir=str(crate),
                      evidence={"pkg_dir": str(crate / "pkg")})
    shown: list[str] = []
    answers = iter(["bad"])
    opened: list[str] = []
    seen: list[int] = []

    def read() -> str:
        url = _url(shown)
        seen.append(_get(url, "/"))
        return next(answers, "")

    pages = serve.pages_for(tmpl, open_browser=True, opener=opened.append)
    assert pages is not None
    verdict = judge(Terms.of(), Terminal(read=read, write=shown.append), pages)(CELL, outcome)
    assert verdict is Verdict.BAD and seen == [200]
    url = _url(shown)
    assert opened == [url]
    with pytest.raises(ConnectionRefusedError):
        _get(url, "/")


def _url(shown: list[str]) -> str:
    screen = "".join(shown)
    return screen.split("page:  ")[1].split()[0]


def test_no_page_no_server(tmp_path: Path) -> None:
    assert serve.pages_for(templates.load("vec-of-structs")) is None
    pages = serve.pages_for(templates.load("canvas-imagedata"))
    assert pages is not None
    with pages(CELL, Outcome(verdict=Verdict.ERROR, reason="build failed")) as url:  # nothing built: no page
        assert url is None
    with pytest.raises(UsageError, match=r"--page .*no such file"):
        serve.check_page(tmp_path / "none.html")


def test_a_template_page_must_exist_inside_it() -> None:
    tmpl = templates.load("canvas-imagedata")
    manifest = {"name": "x", "page": "missing.html"}
    with pytest.raises(TemplateError, match=r"has no page missing\.html"):
        templates.parse_manifest(manifest, root=tmpl.root, files=dict(tmpl.files))
    with pytest.raises(TemplateError, match="relative path inside the template"):
        templates.parse_manifest({**manifest, "page": "../x.html"}, root=tmpl.root, files=dict(tmpl.files))


def test_crate_mode_serves_the_page_given_with_page(tmp_path: Path) -> None:
    """`--page PATH`: the user's page (and the web files beside it) with the cell's build, whatever the crate."""
    crate = _crate(tmp_path)
    page = tmp_path / "site" / "view.html"
    page.parent.mkdir()
    page.write_text("<p>mine</p>")
    pages = serve.pages_for(templates.load("vec-of-structs"), page=serve.check_page(page))
    assert pages is not None
    with pages(CELL, Outcome(verdict=Verdict.GOOD, reason="ok", evidence={"pkg_dir": str(crate / "pkg")})) as url:
        assert url is not None
        assert _get(url, "/") == 200 and _get(url, "/view.html") == 200 and _get(url, "/pkg/app.js") == 200
        assert _get(url, "/index.html") == 404  # the crate's files are not the page's


def _stored(tmp_path: Path, outcome: Outcome) -> tuple[Store, str]:
    store = Store(tmp_path / "store.sqlite3")
    tmpl = templates.load("canvas-imagedata")
    run_id = store.start_run(kind="bisect", fingerprint="f", command="wasm-bisect bisect",
                             config={"reproducer": tmpl.describe(), "template_snapshot": tmpl.snapshot()})
    store.put(CELL, "t", "c", outcome)
    store.record(run_id, CELL, "t", "c", outcome, cached=False)
    return store, run_id


def test_serve_finds_a_stored_cells_build_and_page(tmp_path: Path) -> None:
    crate = _crate(tmp_path)
    store, run_id = _stored(tmp_path, Outcome(verdict=Verdict.BAD, reason="detached", crate_dir=str(crate),
                                              evidence={"pkg_dir": str(crate / "pkg")}))
    found = serve.stored_cell(store, "debian:1.96.0@0.2.95")
    assert found.run.run_id == run_id and found.page == crate / "index.html" and found.pkg_dir == crate / "pkg"
    assert serve.stored_cell(store, "1.96.0@0.2.95:default", run_id=run_id[:10]).pkg_dir == crate / "pkg"
    with serve.serve(found) as url:
        assert _get(url, "/pkg/app_bg.wasm") == 200
    with pytest.raises(UsageError, match=r"was not probed in run"):
        serve.stored_cell(store, "debian:1.96.0@0.2.99")
    with pytest.raises(UsageError, match=r"is not RUSTC@BINDGEN"):
        serve.stored_cell(store, "0.2.95")


@pytest.mark.parametrize(("evidence", "words"), [({}, "was not built"), ({"pkg_dir": "/nonexistent/pkg"}, "is gone")])
def test_serve_refuses_a_cell_without_a_build(tmp_path: Path, evidence: dict[str, str], words: str) -> None:
    store, _ = _stored(tmp_path, Outcome(verdict=Verdict.ERROR, reason="build failed", evidence=evidence))
    with pytest.raises(UsageError, match=words):
        serve.stored_cell(store, "debian:1.96.0@0.2.95")
