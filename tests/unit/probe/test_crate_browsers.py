"""Crate mode in a browser: `--check wasm-pack-test --runtime chromium|firefox` plans `wasm-pack test --headless
--chrome|--firefox` with the right driver, the runner's browser mode, and a webdriver.json in the tool's copy only
(merged with the project's own); a check command stays refused in a browser."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from unit.conftest import make_variant, write_executable
from wasm_bisect.domain.errors import UsageError
from wasm_bisect.domain.model import Runtime, Variant, Verdict
from wasm_bisect.domain.options import CheckOverrides, Selection
from wasm_bisect.probe import crate, runtimes
from wasm_bisect.probe.check import classify_browser_test_run, command_line
from wasm_bisect.probe.reproducer import CheckKind, CheckSpec
from wasm_bisect.probe.runtimes import bindgen_test_runner

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "user-project"
TEST_CHECK = CheckOverrides(check="wasm-pack-test")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    dest = tmp_path / "project"
    shutil.copytree(FIXTURE, dest)
    return dest


@pytest.fixture
def browsers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Fake chromium, chromedriver and firefox-esr on PATH (never started here)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("chromium", "chromedriver", "firefox-esr"):
        write_executable(bin_dir / name, "#!/bin/sh\nexit 0\n")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    runtimes.configure({})
    return bin_dir


def variant(runtime: Runtime = Runtime.NODE) -> Variant:
    return make_variant("crate:app", runtime=runtime)


def load(root: Path, overrides: CheckOverrides = TEST_CHECK) -> crate.CrateProject:
    return crate.load(root, selection=Selection(package="app", features=("repro",)), overrides=overrides)


@pytest.mark.parametrize("runtime, flags, key", [
    (Runtime.CHROMIUM, ["--headless", "--chrome", "--chromedriver"], "goog:chromeOptions"),
    (Runtime.FIREFOX, ["--headless", "--firefox", "--geckodriver"], "moz:firefoxOptions"),
])
def test_wasm_pack_test_in_a_browser_is_planned_headless_with_its_driver(
        runtime: Runtime, flags: list[str], key: str, project: Path, browsers: Path, tmp_path: Path) -> None:
    p = load(project)
    p.check_runtime(runtime)  # allowed for wasm-pack test
    crate_copy = p.materialise(tmp_path / "work" / "crate", variant(runtime), rustc_version="1.96.0")
    written = json.loads((crate_copy.package / "webdriver.json").read_text())
    binary = str(browsers / ("chromium" if runtime is Runtime.CHROMIUM else "firefox-esr"))
    assert written == {key: {"binary": binary, "args": list(bindgen_test_runner.BROWSER_ARGS[runtime])}}
    assert crate_copy.evidence["webdriver_json"]["browser"] == binary
    assert "merged_into_project_file" not in crate_copy.evidence["webdriver_json"]
    assert not (project / "app" / "webdriver.json").exists(), "written into the user's project"

    driver = Path("/cache/geckodriver") if runtime is Runtime.FIREFOX else None
    build_env = {"PATH": "/tc/bin", "WASM_BINDGEN_USE_NODE_EXPERIMENTAL": "1", "NO_HEADLESS": "1"}
    argv, cwd, env = command_line(p.check, crate=crate_copy, build_env=build_env, variant=variant(runtime),
                                  wasm_pack=Path("/wp/wasm-pack"), runner_dir=Path("/runner/bin"), driver=driver)
    expected_driver = str(driver or browsers / "chromedriver")
    assert argv == ["/wp/wasm-pack", "test", *flags, expected_driver, "--mode", "no-install", "--release",
                    str(crate_copy.package), "--features", "repro", "--lib", "--test", "node"]  # no doctests
    assert cwd == crate_copy.package  # where the runner finds webdriver.json
    assert env["WASM_BINDGEN_USE_BROWSER"] == "1" and env["WASM_BINDGEN_TEST_DRIVER_TIMEOUT"] == "30"
    assert "WASM_BINDGEN_USE_NODE_EXPERIMENTAL" not in env and "NO_HEADLESS" not in env
    assert env["PATH"].startswith("/runner/bin:")
    assert p.check.describe(runtime) == f"wasm-pack test {' '.join(flags[:2])}"


def test_node_plan_is_unchanged_and_writes_no_webdriver_json(project: Path, browsers: Path, tmp_path: Path) -> None:
    p = load(project)
    crate_copy = p.materialise(tmp_path / "crate", variant(), rustc_version="1.96.0")
    assert not (crate_copy.package / "webdriver.json").exists() and crate_copy.evidence == {}
    argv, _, env = command_line(p.check, crate=crate_copy, build_env={"PATH": "/bin"}, variant=variant(),
                                wasm_pack=Path("/wp/wasm-pack"))
    assert argv[:3] == ["/wp/wasm-pack", "test", "--node"] and "WASM_BINDGEN_USE_BROWSER" not in env


@pytest.mark.parametrize("runtime", [Runtime.CHROMIUM, Runtime.FIREFOX])
def test_the_projects_own_webdriver_json_is_merged_in_the_copy_only(runtime: Runtime, project: Path,
                                                                     browsers: Path, tmp_path: Path) -> None:
    own = {"goog:chromeOptions": {"args": ["--lang=de", "--no-sandbox"], "binary": "/opt/other/chrome",
                                  "prefs": {"x": 1}},
           "moz:firefoxOptions": {"args": ["-safe-mode"], "prefs": {"y": 2}}, "acceptInsecureCerts": True}
    original = json.dumps(own).encode()
    (project / "app" / "webdriver.json").write_bytes(original)
    p = load(project)
    p.check_runtime(runtime)
    crate_copy = p.materialise(tmp_path / "crate", variant(runtime), rustc_version="1.96.0")
    written = json.loads((crate_copy.package / "webdriver.json").read_text())
    key = bindgen_test_runner.OPTIONS_KEY[runtime]
    other = bindgen_test_runner.OPTIONS_KEY[Runtime.FIREFOX if runtime is Runtime.CHROMIUM else Runtime.CHROMIUM]
    assert written["acceptInsecureCerts"] is True and written[other] == own[other]  # theirs, kept as they were
    assert written[key]["prefs"] == own[key]["prefs"]
    assert written[key]["binary"].startswith(str(browsers))  # the grid's browser, not theirs
    args = written[key]["args"]
    assert args[:len(own[key]["args"])] == own[key]["args"]  # their arguments first, ours added once
    assert len(args) == len(set(args)) and set(bindgen_test_runner.BROWSER_ARGS[runtime]) <= set(args)
    note = crate_copy.evidence["webdriver_json"]
    assert note["merged_into_project_file"] is True and note["project_keys_kept"] == sorted(own)
    assert (project / "app" / "webdriver.json").read_bytes() == original  # the project is read only


@pytest.mark.parametrize("text, needle", [(b"{not json", "is not valid JSON"), (b"[1, 2]", "not a JSON object"),
                                          (b'{"goog:chromeOptions": {"args": "x"}}', "must be an object")])
def test_a_broken_project_webdriver_json_is_refused_before_any_build(text: bytes, needle: str,
                                                                     project: Path) -> None:
    (project / "app" / "webdriver.json").write_bytes(text)
    p = load(project)
    p.check_runtime(Runtime.NODE)  # Node never reads it
    with pytest.raises(UsageError, match=needle) as info:
        p.check_runtime(Runtime.CHROMIUM)
    assert str(project / "app" / "webdriver.json") in info.value.one_line()


def test_a_check_command_is_still_refused_in_a_browser(project: Path) -> None:
    p = load(project, CheckOverrides(check="node tests/check.mjs"))
    for runtime in (Runtime.CHROMIUM, Runtime.FIREFOX):
        with pytest.raises(UsageError, match="run as given"):
            p.check_runtime(runtime)


def test_the_cli_refuses_a_command_check_in_a_browser_in_one_line(project: Path, browsers: Path,
                                                                   monkeypatch: pytest.MonkeyPatch,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from wasm_bisect import cli

    monkeypatch.setattr(sys, "argv", ["wasm-bisect", "probe", "--crate", str(project), "--package", "app",
                                      "--features", "repro", "--check", "node tests/check.mjs", "--runtime",
                                      "chromium", "--rustc", "debian:1.96.0", "--bindgen", "0.2.99"])
    with pytest.raises(SystemExit) as info:
        cli.main()
    err = capsys.readouterr().err
    assert info.value.code == 2 and len(err.strip().splitlines()) == 1, err
    assert "run as given" in err and "not in chromium" in err
    assert not list((project / "app").glob("webdriver.json")) and not (project / "target").exists()


def test_runner_outputs_only_a_browser_run_can_give() -> None:
    skipped = ("Set timeout to 20 seconds...\n    This test suite is only configured to run in node.js, but we're "
               "only running\n    browser tests so skipping.\n")
    verdict, reason = classify_browser_test_run(output=skipped, returncode=0, failure_signature=None)
    assert verdict is Verdict.SKIP and "did not run in the browser" in reason
    ran = "Running headless tests in Chrome on `http://127.0.0.1:4444/`\ntest result: ok. 1 passed\n"
    assert classify_browser_test_run(output=ran, returncode=0, failure_signature=None) is None
    assert bindgen_test_runner.ran_in_browser(ran) == "Running headless tests in Chrome on `http://127.0.0.1:4444/`"
    silent = ("Running headless tests in Firefox on `http://127.0.0.1:4444/`\nFailed to detect test as having been "
              "run. It might have timed out.\nconsole.log div contained:\n    TypeError: attempting to access "
              "detached ArrayBuffer\nError: some tests failed\n")
    verdict, _ = classify_browser_test_run(output=silent, returncode=1, failure_signature="nothing like it")
    assert verdict is Verdict.ERROR  # no result and not the bug: never blamed
    assert classify_browser_test_run(output=silent, returncode=1, failure_signature="detached ArrayBuffer") is None


def test_the_reproduce_command_names_the_browser(project: Path) -> None:
    from wasm_bisect.domain.reproduce import probe_command

    command = probe_command(variant(Runtime.FIREFOX), reproducer=load(project).command_args())
    assert "--check wasm-pack-test" in command and command.endswith("--runtime firefox")


def test_wasm_pack_flags_and_env_are_pure() -> None:
    assert bindgen_test_runner.wasm_pack_flags(Runtime.CHROMIUM, Path("/usr/bin/chromedriver")) == [
        "--headless", "--chrome", "--chromedriver", "/usr/bin/chromedriver"]
    env = bindgen_test_runner.test_env({"WASM_BINDGEN_TEST_DRIVER_TIMEOUT": "90", "WASM_BINDGEN_TEST_ONLY_NODE": "1"})
    assert env == {"WASM_BINDGEN_TEST_DRIVER_TIMEOUT": "90", "WASM_BINDGEN_USE_BROWSER": "1"}
    assert CheckSpec(kind=CheckKind.WASM_PACK_TEST, test="node").describe(Runtime.FIREFOX) == \
        "wasm-pack test --headless --firefox --test node"


def test_version_lines_skip_the_wrappers_shell_noise() -> None:
    noisy = "/usr/bin/chromium: 9: [: 25276059648: unexpected operator\nChromium 156.0.8078.114 built on Debian\n"
    assert bindgen_test_runner.version_line(noisy) == "Chromium 156.0.8078.114 built on Debian"
    assert bindgen_test_runner.version_line("geckodriver 0.37.1\n\nThe source code of this program is available") == \
        "geckodriver 0.37.1"
    assert bindgen_test_runner.version_line("Mozilla Firefox 153.8.0esr") == "Mozilla Firefox 153.8.0esr"
    assert bindgen_test_runner.version_line("") == "unknown"
