"""CLI shell: help, templates commands, and one-line errors with exit code 2 (run through main())."""

import json
import sys
from pathlib import Path

import pytest

from wasm_bisect import cli


def run_main(
    args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["wasm-bisect", *args])
    with pytest.raises(SystemExit) as info:
        cli.main()
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


def test_version(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(["--version"], monkeypatch, capsys)
    assert code == 0 and out.startswith("wasm-bisect ")


def test_templates_list_and_show_json(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(["templates", "list", "--json"], monkeypatch, capsys)
    assert code == 0
    assert {"smoke", "vec-of-structs", "typedarray-view"} <= {t["name"] for t in json.loads(out)}
    code, out, _ = run_main(["templates", "show", "vec-of-structs", "--json"], monkeypatch, capsys)
    assert json.loads(out)["params"]["n"]["default"] == "1000000"


def test_templates_init(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = run_main(["templates", "init", "smoke", str(tmp_path / "t")], monkeypatch, capsys)
    assert code == 0 and (tmp_path / "t" / "template.toml").is_file()
    code, _, err = run_main(["templates", "init", "smoke", str(tmp_path / "t")], monkeypatch, capsys)
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
        (["toolchain", "add", "rustc:1.0.0"], "unknown toolchain provider"),
        (["probe", "--runtime", "safari"], "is not one of 'node', 'chromium', 'firefox'"),
        (["matrix", "--rustc", "debian:1.96.0", "--bindgen", "0.2.99", "--runtime", "node,edge"], "is not one of"),
        (["probe", "--runtime", "chromium", "--browser-path", "/nonexistent/chrome"], "not an executable file"),
        (["matrix", "--rustc", "debian:1.96.0", "--bindgen", "0.2.99", "--runtime", "chromium,firefox",
          "--browser-path", "/bin/sh"], "does not say which browser"),
    ],
)
def test_bad_input_is_one_line_exit_2(args: list[str], needle: str, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_main(args, monkeypatch, capsys)
    assert code == 2, err
    assert needle in err
    assert "Traceback" not in err
    assert len([ln for ln in err.strip().splitlines() if ln.strip()]) == 1, err


def test_template_directory_without_manifest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    # Relative to a known cwd: the result must not depend on where the checkout lives.
    (tmp_path / "work").mkdir()
    (tmp_path / "empty").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    code, _, err = run_main(["templates", "show", "../empty"], monkeypatch, capsys)
    assert code == 2 and "has no template.toml" in err and "Traceback" not in err, err
    code, _, err = run_main(["templates", "show", "../missing"], monkeypatch, capsys)
    assert code == 2 and "unknown template" in err, err


def test_unknown_option_is_usage_error(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_main(["probe", "--no-such-flag"], monkeypatch, capsys)
    assert code == 2 and "Traceback" not in err


@pytest.mark.parametrize("command", [["probe"], ["bisect"], ["verify", "--patch", "0.2.100"],
                                     ["bisect-commits", "--bindgen-repo", "/nonexistent", "--good", "a", "--bad", "b"],
                                     ["matrix", "--rustc", "debian:1.96.0", "--bindgen", "0.2.99"]])
def test_missing_browser_is_one_line_exit_2_with_the_install_command(
        command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    code, _, err = run_main([*command, "--runtime", "chromium"], monkeypatch, capsys)
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1
    assert "chromium is not installed" in err and "apt-get install chromium chromium-driver" in err
