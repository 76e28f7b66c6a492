"""Crate mode in real headless browsers (issue 17, item 6): `--check wasm-pack-test --runtime chromium|firefox` runs
the user-shaped project's own #[wasm_bindgen_test] (tests/fixtures/user-project, app/tests/node.rs, which has no
`run_in_browser`) with `wasm-pack test --headless --chrome|--firefox`, the exactly matching test runner, Debian's
chromium + chromedriver or firefox-esr + the cached geckodriver. A copy of the fixture carries its own
webdriver.json, which the tool merges into the capabilities in its work copy (never in the project).

The #4352 cell (rustc 1.96, wasm-bindgen 0.2.99, reference-types default) is bad in the browser as it is in Node.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from fixtures.browsers import wait_none_left

from .conftest import assert_probe_built, wasm_bisect_json
from .test_crate_real import FIXTURE, digest

PROJECT_WEBDRIVER = {"goog:chromeOptions": {"args": ["--lang=en-US"]},
                     "moz:firefoxOptions": {"prefs": {"intl.locale.requested": "en-US"}}}
RAN_IN = {"chromium": "Running headless tests in Chrome on ", "firefox": "Running headless tests in Firefox on "}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture plus a webdriver.json of the project's own (the tool must keep its capabilities)."""
    copy = tmp_path_factory.mktemp("browser-crate") / "user-project"
    shutil.copytree(FIXTURE, copy)
    (copy / "app" / "webdriver.json").write_text(json.dumps(PROJECT_WEBDRIVER))
    return copy


def probe(project: Path, store: Path, *extra: str, bindgen: str = "0.2.99", rt: str = "default") -> dict[str, Any]:
    doc = wasm_bisect_json("probe", "--crate", str(project), "--package", "app", "--features", "repro",
                           "--check", "wasm-pack-test", "--rustc", "debian:1.96.0", "--bindgen", bindgen,
                           "--reference-types", rt, "--store", str(store), *extra, timeout=3600)
    data: dict[str, Any] = doc["probe"]
    outcome = data["outcome"]
    print(f"PROBE {extra}: {outcome['verdict']} ({outcome['reason']}) timings={outcome['timings']} "
          f"runtime={outcome['evidence'].get('runtime')}")
    assert_probe_built(doc)
    data["reproduce"] = doc["cells"][0]["reproduce"]  # the report's Reproduce command for the cell
    return data


@pytest.mark.parametrize("runtime", ["chromium", "firefox"])
def test_the_projects_wasm_bindgen_test_fails_in_the_browser_as_in_node(runtime: str, project: Path,
                                                                      tmp_path: Path) -> None:
    import time

    before = digest(project)
    fixture_before = digest(FIXTURE)
    since = time.time()
    data = probe(project, tmp_path / "store.sqlite3", "--runtime", runtime)
    outcome, evidence = data["outcome"], data["outcome"]["evidence"]
    assert data["variant"]["runtime"] == runtime
    assert outcome["verdict"] == "bad", outcome
    # The browser ran the test (not node): the runner says so, and the engine's own words are the failure.
    flag = "--chrome" if runtime == "chromium" else "--firefox"
    assert evidence["check"] == f"wasm-pack test --headless {flag}"
    assert evidence["browser_run"].startswith(RAN_IN[runtime]), evidence.get("browser_run")
    assert evidence["runtime"]["name"] == runtime
    assert evidence["runtime"]["driver"].lower().startswith("chromedriver" if runtime == "chromium" else "geckodriver")
    assert evidence["runtime"]["browser"].startswith("Chromium " if runtime == "chromium" else "Mozilla Firefox ")
    assert "detached" in outcome["reason"] and "ArrayBuffer" in outcome["reason"], outcome["reason"]
    # Our capabilities went into the tool's copy, merged with the project's own; the project is untouched.
    note = evidence["webdriver_json"]
    assert note["merged_into_project_file"] is True and note["project_keys_kept"] == sorted(PROJECT_WEBDRIVER)
    written = json.loads((Path(outcome["crate_dir"]) / "app" / "webdriver.json").read_text())
    key = "goog:chromeOptions" if runtime == "chromium" else "moz:firefoxOptions"
    assert written[key]["binary"] == note["browser"]
    assert written == {**PROJECT_WEBDRIVER, **written} or all(k in written for k in PROJECT_WEBDRIVER)
    if runtime == "chromium":
        assert written[key]["args"][0] == "--lang=en-US" and "--no-sandbox" in written[key]["args"]
    else:
        assert written[key]["prefs"] == PROJECT_WEBDRIVER[key]["prefs"] and "-headless" in written[key]["args"]
    # By hand: reproduce.sh runs the same wasm-pack test in the same browser mode; the report's command names it.
    script = (Path(outcome["crate_dir"]).parent / "reproduce.sh").read_text()
    assert "export WASM_BINDGEN_USE_BROWSER=1" in script and f"test --headless {flag}" in script
    assert data["reproduce"].endswith(f"--runtime {runtime}") and "--check wasm-pack-test" in data["reproduce"]
    assert digest(project) == before and digest(FIXTURE) == fixture_before, "crate mode wrote into the project"
    assert wait_none_left(since) == [], "a browser or driver outlived the probe"


def test_the_same_cell_in_node_is_bad_too(project: Path, tmp_path: Path) -> None:
    """The Node answer for the same cell, from the same project: the browser runs agree with it."""
    data = probe(project, tmp_path / "store.sqlite3")
    outcome = data["outcome"]
    assert outcome["verdict"] == "bad", outcome
    assert outcome["evidence"]["check"] == "wasm-pack test --node"
    assert "browser_run" not in outcome["evidence"] and "webdriver_json" not in outcome["evidence"]


def test_without_reference_types_the_cell_passes_in_the_browser(project: Path, tmp_path: Path) -> None:
    """The good side in chromium: the same release with reference-types off passes, so the browser run does not
    fail for a reason of its own."""
    data = probe(project, tmp_path / "store.sqlite3", "--runtime", "chromium", rt="off")
    outcome = data["outcome"]
    assert outcome["verdict"] == "good", outcome
    assert outcome["evidence"]["browser_run"].startswith(RAN_IN["chromium"])


def test_a_runner_before_0_2_96_cannot_move_node_tests_into_a_browser_so_the_cell_is_skip(project: Path,
                                                                                        tmp_path: Path) -> None:
    """wasm-bindgen-test-runner 0.2.93 has no WASM_BINDGEN_USE_BROWSER: it skips a test binary without
    run_in_browser and exits 0. That is untestable, never good."""
    data = probe(project, tmp_path / "store.sqlite3", "--runtime", "chromium", bindgen="0.2.93")
    outcome = data["outcome"]
    assert outcome["verdict"] == "skip", outcome
    assert "did not run in the browser" in outcome["reason"] and "browser_run" not in outcome["evidence"]


HANG_RS = """#![cfg(feature = "repro")]
use wasm_bindgen_test::wasm_bindgen_test;

#[wasm_bindgen_test]
fn never_returns() {
    let mut spins = 0u64;
    loop {
        spins = std::hint::black_box(spins.wrapping_add(1));
    }
}
"""


def test_a_hung_browser_test_is_killed_at_the_timeout_with_its_browser(project: Path, tmp_path: Path) -> None:
    """A test that never returns: the check is killed at --timeout with wasm-pack, the runner, the driver and the
    whole browser (the runner's own wait is lengthened, so the tool's time limit is what ends it)."""
    import time

    hung = tmp_path / "hung-project"
    shutil.copytree(project, hung)
    (hung / "app" / "tests" / "hang.rs").write_text(HANG_RS)
    since = time.time()
    doc = wasm_bisect_json("probe", "--crate", str(hung), "--package", "app", "--features", "repro", "--check",
                           "wasm-pack-test", "--test", "hang", "--timeout", "75", "--rustc", "debian:1.96.0",
                           "--bindgen", "0.2.99", "--reference-types", "default", "--runtime", "chromium",
                           "--store", str(tmp_path / "store.sqlite3"), env={"WASM_BINDGEN_TEST_TIMEOUT": "900"})
    outcome = doc["probe"]["outcome"]
    print(f"PROBE hang: {outcome['verdict']} ({outcome['reason']}) timings={outcome['timings']}")
    assert outcome["verdict"] == "error" and "did not finish within 75 s" in outcome["reason"], outcome
    check_log = next(Path(p) for p in outcome["logs"] if p.endswith("check.log"))
    assert RAN_IN["chromium"] in check_log.read_text()  # it hung in the browser, not in the test build
    assert wait_none_left(since) == [], "a browser or driver outlived the timeout"
