import pytest

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
