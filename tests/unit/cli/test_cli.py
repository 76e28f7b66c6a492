"""CLI shell: help, templates commands, and one-line errors with exit code 2 (run through main())."""

import json
import re
from pathlib import Path

import pytest

from unit.conftest import run_cli


def test_versions_lines_have_no_trailing_spaces(monkeypatch: pytest.MonkeyPatch) -> None:
    from wasm_bisect.bindgen import index

    monkeypatch.setattr(index, "_unreachable", True)  # the bundled list, no network
    code, out, _ = run_cli(["versions"])
    lines = out.splitlines()
    assert code == 0 and len(lines) > 50
    assert [line for line in lines if line != line.rstrip()] == []
    assert any(line.startswith("0.2.94 ") and line.endswith("yanked") for line in lines)


def test_version() -> None:
    code, out, _ = run_cli(["--version"])
    assert code == 0 and out.startswith("wasm-bisect ")


def test_templates_list_and_show_json() -> None:
    code, out, _ = run_cli(["templates", "list", "--json"])
    assert code == 0
    assert {"smoke", "vec-of-structs", "typedarray-view"} <= {t["name"] for t in json.loads(out)}
    code, out, _ = run_cli(["templates", "show", "vec-of-structs", "--json"])
    assert json.loads(out)["params"]["n"]["default"] == "1000000"


def test_templates_init(tmp_path: Path) -> None:
    code, out, err = run_cli(["templates", "init", "smoke", str(tmp_path / "t")])
    assert code == 0 and (tmp_path / "t" / "template.toml").is_file()
    # The confirmation is the command's result: stdout, one line, no progress stamp; it names a page that exists.
    assert err == "" and out.startswith(f"copied template smoke to {tmp_path / 't'}; ") and out.count("\n") == 1
    page = re.search(r"\(how: (\S+)\)", out)
    assert page and Path(page[1]).is_file() and page[1].endswith("templates.md")
    code, _, err = run_cli(["templates", "init", "smoke", str(tmp_path / "t")])
    assert code == 2 and "already exists" in err


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["probe", "--template", "nope"], "unknown template"),
        (["probe", "--rustc", "apt:1.96.0"], "unknown toolchain provider"),
        (["probe", "--rustc", "debian:1.96"], "not of the form"),
        (["probe", "--reference-types", "maybe"], "is not one of"),
        (["probe", "--param", "n"], "NAME=VALUE"),
        (["probe", "--param", "zz=1"], "no parameter"),
        (["probe", "--build-failure", "ignore"], "is not one of 'skip', 'bad'"),
        (["probe", "--target", "web"], "is not one of 'nodejs'"),
        (["tools", "install"], "nothing to install"),
        (["tools", "install", "--bindgen", "0.2"], "not an exact"),
        (["probe", "--tools", "download"], "is not one of 'auto', 'prebuilt', 'source'"),
        (["tools", "install", "--bindgen", "0.2.99", "--tools", "binary"], "is not one of"),
        (["toolchain", "add", "rustc:1.0.0"], "unknown toolchain provider"),
        (["probe", "--runtime", "safari"], "is not one of 'node', 'chromium', 'firefox'"),
        (["matrix", "--rustc", "debian:1.96.0", "--bindgen", "0.2.99", "--runtime", "node,edge"], "is not one of"),
        (["probe", "--runtime", "chromium", "--browser-path", "/nonexistent/chrome"], "not an executable file"),
        (["matrix", "--rustc", "debian:1.96.0", "--bindgen", "0.2.99", "--runtime", "chromium,firefox",
          "--browser-path", "/bin/sh"], "does not say which browser"),
    ],
)
def test_bad_input_is_one_line_exit_2(args: list[str], needle: str) -> None:
    code, _, err = run_cli(args)
    assert code == 2, err
    assert needle in err
    assert "Traceback" not in err
    assert len([ln for ln in err.strip().splitlines() if ln.strip()]) == 1, err


def test_template_directory_without_manifest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Relative to a known cwd: the result must not depend on where the checkout lives.
    (tmp_path / "work").mkdir()
    (tmp_path / "empty").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    code, _, err = run_cli(["templates", "show", "../empty"])
    assert code == 2 and "has no template.toml" in err and "Traceback" not in err, err
    code, _, err = run_cli(["templates", "show", "../missing"])
    assert code == 2 and "unknown template" in err, err


def test_unknown_option_is_usage_error() -> None:
    code, _, err = run_cli(["probe", "--no-such-flag"])
    assert code == 2 and "Traceback" not in err


# -- issue 13 ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("args", [["cache", "info"], ["tools", "list"], ["toolchain", "list"], ["runs"],
                                  ["templates", "list"], ["versions"], ["log"], ["nox-matrix"]])
def test_a_home_that_is_a_file_is_one_line_for_every_command(args: list[str], tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("WASM_BISECT_HOME", str(tmp_path / "file" / "home"))
    code, _, err = run_cli(args)
    assert code == 2 and "is not a directory" in err and len(err.strip().splitlines()) == 1, err
    code, out, _ = run_cli([*args, "--help"])  # help still works
    assert code == 0 and "Usage" in out


def test_nox_matrix_input_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from wasm_bisect import noxsupport

    many = [{"session": f"cell({i})", "call_spec": {"cell": f"debian:1.96.0@0.2.{i}@on"}} for i in range(257)]
    for stdin, needle in (("[" * 100_000, "nests"), (json.dumps(many), "more than GitHub's 256"),
                          ('[{"session": "x", "call_spec": "cell"}]', "not an object"),
                          ('[{"session": 5}]', "a list of sessions")):
        code, _, err = run_cli(["nox-matrix"], input=stdin)
        assert code == 2 and needle in err and len(err.strip().splitlines()) == 1, err
    code, _, err = run_cli(["nox-matrix"], input=b"[\xff\xfe]")
    assert code == 2 and "not UTF-8" in err, err
    monkeypatch.setattr(noxsupport, "MAX_NOX_JSON", 10)
    code, _, err = run_cli(["nox-matrix"], input="[" + " " * 100 + "]")
    assert code == 2 and "too large" in err, err


def test_log_and_report_of_a_hand_edited_store_are_one_line(tmp_path: Path) -> None:
    import sqlite3

    from wasm_bisect.domain.model import BindgenSource, Outcome, ToolchainSpec, Variant, Verdict
    from wasm_bisect.store import Store

    path = tmp_path / "s.sqlite3"
    store = Store(path)
    variant = Variant(template="smoke", rustc=ToolchainSpec.parse("debian:1.96.0"),
                      bindgen=BindgenSource.crates("0.2.99"))
    run_id = store.start_run(kind="matrix", fingerprint="f", command="c", config={"grid": 5})
    store.put(variant, "t", "c", Outcome(verdict=Verdict.GOOD, reason="ok"))
    store.record(run_id, variant, "t", "c", Outcome(verdict=Verdict.GOOD, reason="ok"), cached=False)
    store.finish_run(run_id, {"searches": "not a list"})
    store.close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE probes SET variant_json = '{\"bindgen\": 5, \"rustc\": [], \"reference_types\": 1}'")
    for args in (["log", "--store", str(path)], ["report", "--no-env", "--store", str(path)]):
        code, _, err = run_cli(args)
        assert code == 2 and "cannot be read" in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize("command", [["probe"], ["bisect"], ["verify", "--patch", "0.2.100"],
                                     ["bisect-commits", "--bindgen-repo", "/nonexistent", "--good", "a", "--bad", "b"],
                                     ["matrix", "--rustc", "debian:1.96.0", "--bindgen", "0.2.99"]])
def test_missing_browser_is_one_line_exit_2_with_the_install_command(
        command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    code, _, err = run_cli([*command, "--runtime", "chromium"])
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1
    assert "chromium is not installed" in err and "apt-get install chromium chromium-driver" in err
