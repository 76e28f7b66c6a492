"""Runtimes: the engine texts every built-in signature must match, the page server, browser discovery, the
page, and the Node runner's exit codes (real node, marked `subprocess`)."""

from __future__ import annotations

import http.client
import json
import os
from pathlib import Path

import pytest

from unit.conftest import write_executable
from wasm_bisect import config
from wasm_bisect.domain.errors import TemplateError, ToolMissing, UsageError
from wasm_bisect.domain.model import Runtime, Verdict
from wasm_bisect.probe import check, templates
from wasm_bisect.probe.runtimes import browser, browsers, node, server

# The same detached-buffer failure as each engine words it (measured on this machine kind: Node 20.20,
# Chromium 156's V8, Firefox ESR 153), as the built-in checks report it.
ENGINE_TEXTS = {
    ("vec-of-structs", "node 20"): "FAIL: test_sum threw TypeError: Cannot perform DataView.prototype.setUint32 "
                                   "on a detached ArrayBuffer",
    ("vec-of-structs", "chromium 156"): "FAIL: test_sum threw TypeError: Cannot perform "
                                        "DataView.prototype.setUint32 on a detached or out-of-bounds ArrayBuffer",
    ("vec-of-structs", "firefox 153"): "FAIL: test_sum threw TypeError: attempting to access detached ArrayBuffer",
    ("typedarray-view", "node 20"): "FAIL: make_views threw TypeError: Cannot perform Construct on a detached "
                                    "ArrayBuffer",
    ("typedarray-view", "chromium 156"): "FAIL: make_views threw TypeError: Cannot perform "
                                         "%TypedArray%.prototype.set on a detached or out-of-bounds ArrayBuffer",
    ("typedarray-view", "firefox 153"): "FAIL: make_views threw TypeError: attempting to access detached "
                                        "ArrayBuffer",
    # #4815, browsers only: putImageData on an ImageData whose wasm-memory view was detached.
    ("imagedata-detached", "chromium 156"): "FAIL: paint_frames threw InvalidStateError: The source data has been "
                                            "detached.",
    ("imagedata-detached", "firefox 153"): "FAIL: paint_frames threw InvalidStateError: "
                                           "OffscreenCanvasRenderingContext2D.putImageData: Invalid width or height",
}
FRAMES = {"node 20": "    at test_sum (/w/pkg/wasm_bisect_probe.js:56:18)",
          "chromium 156": "    at Module.check (http://127.0.0.1:4000/check.mjs:16:11)",
          "firefox 153": "check@http://127.0.0.1:4000/check.mjs:16:11"}


@pytest.mark.parametrize(("template", "engine"), sorted(ENGINE_TEXTS))
def test_every_builtin_signature_matches_each_engines_wording(template: str, engine: str) -> None:
    tmpl = templates.load(template)
    text = ENGINE_TEXTS[(template, engine)]
    output = f"{FRAMES[engine]}\n{text}\n"
    verdict, reason = check.classify(returncode=1, output=output, timed_out=False,
                                     failure_signature=tmpl.failure_signature, timeout=5)
    assert verdict is Verdict.BAD, reason
    assert reason == text  # the failure line, not a stack frame, whatever the engine's frame syntax
    assert check.failure_text(tmpl.failure_signature, output) == text


def test_another_failure_in_a_browser_is_still_not_blamed() -> None:
    tmpl = templates.load("vec-of-structs")
    verdict, _ = check.classify(returncode=1, output="FAIL: RangeError: Maximum call stack size exceeded",
                                timed_out=False, failure_signature=tmpl.failure_signature, timeout=5)
    assert verdict is Verdict.SKIP


def test_builtin_templates_run_in_every_runtime() -> None:
    for name in ("vec-of-structs", "typedarray-view", "smoke"):
        assert set(templates.load(name).runtimes) >= {Runtime.NODE, Runtime.CHROMIUM, Runtime.FIREFOX}
    assert templates.load("imagedata-detached").runtimes == (Runtime.CHROMIUM, Runtime.FIREFOX)  # no ImageData in Node


def _template(tmp_path: Path, runtimes: object) -> templates.Template:
    files = {"Cargo.toml": b"[package]\nname='x'\nversion='0.1.0'\n", "src/lib.rs": b"", "check.mjs": b""}
    return templates.parse_manifest({"name": "t", "check": {"runtimes": runtimes}}, root=tmp_path, files=files)


def test_template_runtimes_key(tmp_path: Path) -> None:
    assert _template(tmp_path, ["Chromium", "firefox", "chromium"]).runtimes == (Runtime.CHROMIUM, Runtime.FIREFOX)
    assert templates.parse_manifest({"name": "t"}, root=tmp_path, files={
        "Cargo.toml": b"[package]\nname='x'\n", "src/lib.rs": b"", "check.mjs": b""}).runtimes == (Runtime.NODE,)
    for bad in (["safari"], [], "chromium", [1]):
        with pytest.raises(TemplateError, match=r"check\.runtimes"):
            _template(tmp_path, bad)
    with pytest.raises(UsageError, match="does not run in node"):
        _template(tmp_path, ["chromium"]).check_runtime(Runtime.NODE)


# -- the page -------------------------------------------------------------------------------------------------
def test_page_config_cannot_close_its_script_element() -> None:
    html = browser.page_html(pkg="/pkg/x.js", check="/check.mjs", params={"n": "</script><script>alert(1)"})
    assert b"</script><script>alert" not in html
    start = html.index(b'id="wasm-bisect-config">') + len(b'id="wasm-bisect-config">')
    config = json.loads(html[start:html.index(b"</script>", start)])
    assert config["params"]["n"] == "</script><script>alert(1)"


def test_page_files_are_the_output_and_the_scripts_never_the_sources(tmp_path: Path) -> None:
    crate = tmp_path / "crate"
    for rel in ("pkg/a.js", "pkg/a_bg.wasm", "pkg/snippets/x/inline0.js", "check.mjs", "data/input.json",
                "src/lib.rs", "Cargo.toml", "target/x.js", ".cargo/config.toml"):
        (crate / rel).parent.mkdir(parents=True, exist_ok=True)
        (crate / rel).write_text("x")
    (crate / "pkg" / "link.js").symlink_to(tmp_path / "elsewhere.js")
    assert sorted(check.page_files(crate)) == ["check.mjs", "data/input.json", "pkg/a.js", "pkg/a_bg.wasm",
                                               "pkg/snippets/x/inline0.js"]


def _get(url: str, path: str, host: str | None = None) -> tuple[int, str, bytes]:
    hostport = url.split("/")[2]
    conn = http.client.HTTPConnection(hostport, timeout=5)
    conn.request("GET", path, headers={"Host": host or hostport})
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, response.getheader("Content-Type") or "", body


def _post(url: str, path: str, body: str) -> int:
    hostport = url.split("/")[2]
    conn = http.client.HTTPConnection(hostport, timeout=5)
    conn.request("POST", path, body=body.encode(), headers={"Host": hostport})
    status = conn.getresponse().status
    conn.close()
    return status


def test_server_serves_only_its_routes_and_collects_what_the_page_reports(tmp_path: Path) -> None:
    wasm = tmp_path / "a_bg.wasm"
    wasm.write_bytes(b"\0asm")
    secret = tmp_path / "secret.txt"
    secret.write_text("no")
    log = tmp_path / "check.log"
    state = server.PageState(log)
    routes = server.routes_for(page=b"<html>", runner=b"// runner", files={"pkg/a_bg.wasm": wasm})
    with server.serve(routes, state) as url:
        assert url.startswith("http://127.0.0.1:")
        assert _get(url, "/")[0::2] == (200, b"<html>")
        assert _get(url, "/pkg/a_bg.wasm")[:2] == (200, "application/wasm")
        assert _get(url, "/__wasm_bisect/runner.js")[1] == "text/javascript"
        for path in ("/secret.txt", "/pkg/../secret.txt", "/pkg/", "/etc/passwd", "/%2e%2e/secret.txt"):
            assert _get(url, path)[0] == 404, path
        assert _get(url, "/", host="attacker.example:80")[0] == 404  # DNS rebinding: not our origin
        assert _post(url, "/__wasm_bisect/log", "FAIL: boom") == 204
        assert _post(url, "/elsewhere", "x") == 403
        assert not state.finished.is_set()
        assert _post(url, "/__wasm_bisect/done", "1") == 204
        assert _post(url, "/__wasm_bisect/done", "0") == 204  # the first exit code counts
    assert state.finished.is_set() and state.exit_code == 1
    assert state.output() == "FAIL: boom"
    assert log.read_text() == "FAIL: boom\n"


# -- finding browsers -----------------------------------------------------------------------------------------
def test_missing_browser_says_how_to_install_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    browsers.configure({})
    with pytest.raises(ToolMissing) as info:
        browsers.locate(Runtime.CHROMIUM)
    assert "apt-get install chromium chromium-driver" in info.value.one_line()
    with pytest.raises(ToolMissing, match="firefox is not installed") as info:
        browsers.check_available((Runtime.NODE, Runtime.FIREFOX))
    assert "apt-get install firefox-esr" in info.value.one_line()
    browsers.check_available((Runtime.NODE,))  # node needs no browser


def test_browser_found_on_path_or_where_configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    write_executable(bin_dir / "firefox-esr")
    write_executable(bin_dir / "chromium")
    monkeypatch.setenv("PATH", str(bin_dir))
    browsers.configure({})
    assert browsers.locate(Runtime.FIREFOX).binary == bin_dir / "firefox-esr"
    assert browsers.locate(Runtime.FIREFOX).driver is None  # geckodriver: from the tool cache
    with pytest.raises(ToolMissing, match="chromedriver"):
        browsers.locate(Runtime.CHROMIUM)
    write_executable(bin_dir / "chromedriver")
    assert browsers.locate(Runtime.CHROMIUM).driver == bin_dir / "chromedriver"
    own = write_executable(tmp_path / "opt" / "chrome")
    try:
        browsers.configure({Runtime.CHROMIUM: own})
        assert browsers.locate(Runtime.CHROMIUM).binary == own
    finally:
        browsers.configure({})


def test_browser_path_option(tmp_path: Path) -> None:
    chrome = write_executable(tmp_path / "chrome")
    fox = write_executable(tmp_path / "fox")
    parse = config.parse_browser_paths
    assert parse([str(chrome)], (Runtime.CHROMIUM,)) == {Runtime.CHROMIUM: chrome}
    assert parse([f"firefox={fox}", f"chromium={chrome}"], (Runtime.NODE, Runtime.CHROMIUM, Runtime.FIREFOX)) == {
        Runtime.FIREFOX: fox, Runtime.CHROMIUM: chrome}
    with pytest.raises(UsageError, match="does not say which browser"):
        parse([str(chrome)], (Runtime.CHROMIUM, Runtime.FIREFOX))
    with pytest.raises(UsageError, match="not a browser"):
        parse([f"node={chrome}"], (Runtime.NODE,))
    (tmp_path / "plain").write_text("")
    for bad in (str(tmp_path / "missing"), str(tmp_path / "plain"), str(tmp_path)):
        with pytest.raises(UsageError, match="not an executable file"):
            parse([bad], (Runtime.FIREFOX,))


# -- the Node runner (real node) ------------------------------------------------------------------------------
PKG = "module.exports = { add: (a, b) => a + b };\n"
CHECKS = {
    "good": "export default async function check(pkg, params) { if (pkg.add(2, 3) !== 5) throw new Error('no'); }",
    "bad": "export default async function check(pkg) { null.x; }",
    "plain-error": "export default async function check() { throw new Error('sum mismatch: got 1'); }",
    "skip-error": "class Skip extends Error { name = 'Skip'; }\n"
                  "export default async function check() { throw new Skip('no such API here'); }",
    "skip-return": "export default async function check() { return 'skip'; }",
    "params": "export default async function check(pkg, params) { if (params.n !== '7' || params.other_name !== 'x')"
              " throw new Error(JSON.stringify(params)); }",
    "legacy-exit": "console.log('legacy'); process.exit(3);",
    "legacy-pass": "console.log('legacy ok');",
    "legacy-throw": "throw new TypeError('top-level');",
}
EXPECTED = {"good": (0, ""), "bad": (1, "FAIL: TypeError: Cannot read properties of null"),
            "plain-error": (1, "FAIL: sum mismatch: got 1"), "skip-error": (125, "untestable: no such API here"),
            "skip-return": (125, 'untestable: the check returned "skip"'), "params": (0, ""),
            "legacy-exit": (3, "legacy"), "legacy-pass": (0, "legacy ok"),
            "legacy-throw": (1, "FAIL: TypeError: top-level")}


@pytest.mark.subprocess
@pytest.mark.parametrize("case", sorted(CHECKS))
def test_node_runner_maps_the_contract_to_git_bisect_exit_codes(case: str, tmp_path: Path) -> None:
    from wasm_bisect.util import processes

    (tmp_path / "pkg.js").write_text(PKG)
    script = tmp_path / "check.mjs"
    script.write_text(CHECKS[case])
    runner = node.install_runner(tmp_path / "probe")
    env = check.environment(os.environ, pkg_module=tmp_path / "pkg.js", params=(("n", "7"), ("other_name", "x")))
    result = processes.run(node.node_argv(runner, script), env=env, cwd=tmp_path, check=False, timeout=60)
    code, needle = EXPECTED[case]
    assert result.returncode == code, result.output
    assert needle in result.output
    if code == 1:
        assert check.last_meaningful_line(result.output).startswith("FAIL: ")
