import pytest

from unit.conftest import make_variant
from wasm_bisect.domain.model import Verdict
from wasm_bisect.probe.check import classify, last_meaningful_line
from wasm_bisect.probe.check import environment as check_env

SIG = "detached ArrayBuffer|sum mismatch"


def c(rc: int | None, out: str = "", *, timed_out: bool = False, sig: str | None = SIG) -> Verdict:
    return classify(returncode=rc, output=out, timed_out=timed_out, failure_signature=sig, timeout=5)[0]


def test_exit_codes_follow_git_bisect_contract() -> None:
    assert c(0, "OK") is Verdict.GOOD
    assert c(125, "untestable") is Verdict.SKIP
    assert c(1, "TypeError: Cannot perform DataView.prototype.setUint32 on a detached ArrayBuffer") is Verdict.BAD
    assert c(1, "FAIL: sum mismatch: got 1") is Verdict.BAD
    assert c(128, "x") is Verdict.ERROR
    assert c(200, "x") is Verdict.ERROR


def test_other_failure_is_not_blamed_when_signature_given() -> None:
    verdict, reason = classify(returncode=1, output="RangeError: Maximum call stack", timed_out=False,
                               failure_signature=SIG, timeout=5)
    assert verdict is Verdict.SKIP
    assert "differently" in reason
    assert c(1, "anything", sig=None) is Verdict.BAD


def test_timeouts_and_signals_are_infrastructure_errors() -> None:
    assert c(None, timed_out=True) is Verdict.ERROR
    assert c(-9) is Verdict.ERROR
    assert c(None) is Verdict.ERROR


def test_last_line_skips_stack_frames() -> None:
    assert last_meaningful_line("Error: boom\n    at foo (x.js:1)\n") == "Error: boom"


def test_check_env_passes_params_and_drops_stale_ones(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = check_env({"WASM_BISECT_PARAM_OLD": "1", "PATH": "/bin"}, pkg_module=tmp_path / "m.js",
                    params=(("n", "10"),))
    assert env["WASM_BISECT_PARAM_N"] == "10"
    assert "WASM_BISECT_PARAM_OLD" not in env
    assert env["WASM_BISECT_PKG"].endswith("m.js")


def test_catastrophic_signature_is_an_error_not_a_hang(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    from wasm_bisect.probe import check

    monkeypatch.setattr(check, "SIGNATURE_SECONDS", 0.2)
    start = time.monotonic()
    verdict, reason = classify(returncode=1, output="x" * 5000, timed_out=False,
                               failure_signature=r"(x+x+)+y", timeout=5)
    assert verdict is Verdict.ERROR and "failure_signature" in reason
    assert time.monotonic() - start < 5


# -- the one check contract: any command, wasm-pack test, hangs as the bug ---------------------------------
def test_a_hang_is_bad_only_when_the_user_says_so() -> None:
    from wasm_bisect.probe.reproducer import TimeoutVerdict

    verdict, reason = classify(returncode=None, output="", timed_out=True, failure_signature=SIG, timeout=5,
                               timeout_verdict=TimeoutVerdict.BAD)
    assert verdict is Verdict.BAD and "hang counts as bad" in reason
    assert c(None, timed_out=True) is Verdict.ERROR


def test_a_test_build_that_does_not_compile_is_a_build_failure() -> None:
    from wasm_bisect.probe.check import classify_test_run

    failed = "error[E0425]: cannot find value `x`\nError: Compilation of your program failed\n"
    assert classify_test_run(output=failed, returncode=1, build_failure="skip", failure_signature=None,
                             signature_judges_builds=False)[0] is Verdict.SKIP  # type: ignore[index]
    assert classify_test_run(output=failed, returncode=1, build_failure="bad", failure_signature=None,
                             signature_judges_builds=False)[0] is Verdict.BAD  # type: ignore[index]
    assert classify_test_run(output=failed, returncode=1, build_failure="bad", failure_signature="E0599",
                             signature_judges_builds=True)[0] is Verdict.SKIP  # type: ignore[index]
    missing = "Error: Could not find 'wasm-bindgen-test-runner'."
    assert classify_test_run(output=missing, returncode=1, build_failure="skip", failure_signature=None,
                             signature_judges_builds=False)[0] is Verdict.ERROR  # type: ignore[index]
    ran = "test node::t ... FAIL\ntest result: FAILED. 0 passed; 1 failed"
    assert classify_test_run(output=ran, returncode=1, build_failure="skip", failure_signature=None,
                             signature_judges_builds=False) is None  # a test that ran: judged as a check
    assert classify_test_run(output=failed, returncode=0, build_failure="skip", failure_signature=None,
                             signature_judges_builds=False) is None


def test_failing_test_line_names_the_failure() -> None:
    from wasm_bisect.probe.check import failing_test_line

    out = "running 1 test\npanicked at app/tests/node.rs:24:21:\nFAIL: threw TypeError: detached ArrayBuffer\n" \
          "test node::t ... FAIL\nError: Running Wasm tests with wasm-bindgen-test failed\n"
    assert failing_test_line(out, None) == "FAIL: threw TypeError: detached ArrayBuffer"
    assert failing_test_line(out, "detached") == "FAIL: threw TypeError: detached ArrayBuffer"
    assert failing_test_line("test a::b ... FAIL\n", None) == "test a::b ... FAIL"


def test_check_env_names_what_was_built(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = check_env({"PATH": "/bin"}, pkg_module=tmp_path / "pkg" / "app.js", params=(),
                    names={"pkg_dir": str(tmp_path / "pkg"), "rustc": "debian:1.96.0", "reference_types": "on"})
    assert env["WASM_BISECT_PKG_DIR"].endswith("pkg") and env["WASM_BISECT_RUSTC"] == "debian:1.96.0"
    assert env["WASM_BISECT_REFERENCE_TYPES"] == "on" and env["WASM_BISECT_PKG"].endswith("app.js")


def _crate(tmp_path):  # type: ignore[no-untyped-def]
    from wasm_bisect.probe.reproducer import Materialised

    return Materialised(workspace=tmp_path / "crate", package=tmp_path / "crate" / "app", artifact="app",
                        pinning="lockfile", cargo_args=("--features", "repro"))


def _variant(rt: str = "default"):  # type: ignore[no-untyped-def]
    from wasm_bisect.domain.model import ReferenceTypes

    return make_variant("crate:app", bindgen="0.2.95", reference_types=ReferenceTypes(rt))


def test_command_lines_of_each_kind(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from pathlib import Path

    from wasm_bisect.probe.check import command_line
    from wasm_bisect.probe.reproducer import CheckKind, CheckSpec

    build_env = {"PATH": "/tc/bin", "RUSTFLAGS": "--cfg x", "CARGO_TARGET_DIR": "/t/slot0"}
    spec = CheckSpec(kind=CheckKind.COMMAND, argv=("./run.sh", "--fast"))
    argv, cwd, env = command_line(spec, crate=_crate(tmp_path), build_env=build_env, variant=_variant(),
                                  wasm_pack=Path("/wp/wasm-pack"))
    app = tmp_path / "crate" / "app"
    assert argv == [str(app / "run.sh"), "--fast"] and cwd == app
    assert env["RUSTFLAGS"] == "--cfg x" and env["WASM_BISECT_BINDGEN"] == "0.2.95"
    assert env["WASM_BISECT_WASM"] == str(app / "pkg" / "app_bg.wasm")
    test = CheckSpec(kind=CheckKind.WASM_PACK_TEST, test="node")
    argv, _, env = command_line(test, crate=_crate(tmp_path), build_env=build_env, variant=_variant(),
                                wasm_pack=Path("/wp/wasm-pack"), runner_dir=Path("/runner/bin"),
                                test_sysroot=Path("/ts"))
    assert argv == ["/wp/wasm-pack", "test", "--node", "--mode", "no-install", "--release", str(app),
                    "--features", "repro", "--test", "node"]
    assert env["PATH"].startswith("/runner/bin:")
    assert env["RUSTFLAGS"] == "--cfg x --sysroot=/ts" and env["CARGO_TARGET_DIR"] == "/t/slot0-test"
    script = CheckSpec(kind=CheckKind.SCRIPT, script="check.mjs")
    argv, _, env = command_line(script, crate=_crate(tmp_path), build_env=build_env, variant=_variant(),
                                wasm_pack=Path("/wp/wasm-pack"))
    # a check module runs through the tool's Node runner, written next to the probe's files
    assert argv == ["node", str(tmp_path / "run-check.mjs"), str(app / "check.mjs")] and "CARGO_TARGET_DIR" not in env


def test_parse_check_and_missing_programs(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from wasm_bisect.domain.errors import UsageError
    from wasm_bisect.probe.reproducer import CheckKind, parse_check, require_program

    assert parse_check("wasm-pack-test") == (CheckKind.WASM_PACK_TEST, ())
    assert parse_check("node 'tests/my check.mjs' --n=3") == (CheckKind.COMMAND, ("node", "tests/my check.mjs",
                                                                                  "--n=3"))
    for bad, needle in (('node "unclosed', "not a command line"), ("  ", "is empty"), ("a\0b", "NUL")):
        with pytest.raises(UsageError, match=needle):
            parse_check(bad)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "check.mjs").write_text("")
    require_program(("node", "tests/check.mjs"), cwd=tmp_path, where="x")
    require_program(("cargo", "test"), cwd=tmp_path, where="x", search_path="/nonexistent")  # provided by the tool
    with pytest.raises(UsageError, match="is not on PATH"):
        require_program(("no-such-prog-1",), cwd=tmp_path, where="x")
    with pytest.raises(UsageError, match="does not exist in x"):
        require_program(("./missing.sh",), cwd=tmp_path, where="x")
    require_program(("sh", "check.sh"), cwd=None, files={"check.sh": b""}, where="template t")


@pytest.mark.subprocess
def test_run_spec_follows_git_bisect_codes_for_any_command(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os
    import sys

    from wasm_bisect.probe.check import run_spec
    from wasm_bisect.probe.reproducer import CheckKind, CheckSpec, TimeoutVerdict

    def run(code: str, **kw: object) -> Verdict:
        spec = CheckSpec(kind=CheckKind.COMMAND, argv=(sys.executable, "-c", code), timeout=2, **kw)  # type: ignore[arg-type]
        return run_spec(spec, list(spec.argv), cwd=tmp_path, env=dict(os.environ), log=tmp_path / "log",
                        build_failure="skip").verdict

    assert run("print('ok')") is Verdict.GOOD
    assert run("raise SystemExit(125)") is Verdict.SKIP
    assert run("raise SystemExit(3)") is Verdict.BAD
    assert run("print('other'); raise SystemExit(3)", failure_signature="detached") is Verdict.SKIP
    assert run("raise SystemExit(130)") is Verdict.ERROR
    assert run("import os, signal; os.kill(os.getpid(), signal.SIGKILL)") is Verdict.ERROR
    assert run("import time; time.sleep(30)") is Verdict.ERROR
    assert run("import time; time.sleep(30)", timeout_verdict=TimeoutVerdict.BAD) is Verdict.BAD
