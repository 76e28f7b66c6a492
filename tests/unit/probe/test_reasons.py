"""The reason a person reads, from real outputs of node, browsers, npm, cargo, rustc and wasm-bindgen (captured on
this machine kind; paths anonymised), and when a check could not run at all."""

from pathlib import Path

import pytest

from wasm_bisect.domain.model import Verdict
from wasm_bisect.probe.check import classify
from wasm_bisect.probe.reasons import cannot_run, reason_line

OUTPUTS = Path(__file__).parent / "outputs"


def out(name: str) -> str:
    return (OUTPUTS / name).read_text()


@pytest.mark.parametrize(("name", "expected"), [
    ("node20-uncaught-typeerror.txt",
     "TypeError: Cannot perform DataView.prototype.setUint32 on a detached ArrayBuffer"),
    ("node20-entry-missing.txt", "Error: Cannot find module '/home/user/project/missing.mjs'"),
    ("node20-import-missing.txt", "Error [ERR_MODULE_NOT_FOUND]: Cannot find module '/home/user/project/nope.mjs' "
                                  "imported from /home/user/project/i.mjs"),
    ("npm10-missing-script.txt", 'npm error Missing script: "check"'),
    ("cargo-e0308.txt", "error[E0308]: mismatched types"),
    ("rust-panic.txt", "index out of bounds: the len is 0 but the index is 4"),
    ("wasm-pack-bindgen-schema.txt", "error: it looks like the Rust project used to create this Wasm file was linked "
                                     "against"),
    ("chromium156-page.txt", "FAIL: test_sum threw TypeError: Cannot perform DataView.prototype.setUint32 on a "
                             "detached or out-of-bounds ArrayBuffer"),
    ("firefox153-page.txt", "FAIL: test_sum threw TypeError: attempting to access detached ArrayBuffer"),
])
def test_the_reason_is_the_error_line_never_a_trailer(name: str, expected: str) -> None:
    said = reason_line(out(name))
    assert said == expected
    assert not said.startswith(("Node.js", "at ", "^", "}", "code:"))


def test_a_passing_check_keeps_its_last_words() -> None:
    assert reason_line("building...\nOK: sum over 1000000 structs = 1\n\n") == "OK: sum over 1000000 structs = 1"
    assert reason_line("") == ""
    assert reason_line("Error: boom\n    at foo (x.js:1)\n") == "Error: boom"


@pytest.mark.parametrize("name", ["node20-entry-missing.txt", "node20-import-missing.txt",
                                  "node20-package-missing.txt", "npm10-missing-script.txt"])
def test_a_check_that_cannot_load_its_files_is_an_error_never_bad(name: str) -> None:
    assert cannot_run(out(name), 1) is not None
    verdict, reason = classify(returncode=1, output=out(name), timed_out=False, failure_signature=None, timeout=5)
    assert verdict is Verdict.ERROR and reason.startswith("the check could not run: ")
    assert "Node.js v" not in reason


def test_exit_126_and_127_are_errors_and_other_shells_too() -> None:
    for rc, text in ((127, "bash: line 1: nope-cmd: command not found"), (126, "bash: ./t.mjs: Permission denied"),
                     (2, "/usr/bin/python3: can't open file '/p/check.py': [Errno 2] No such file or directory"),
                     (2, "sh: 0: cannot open ./nope.sh: No such file")):
        verdict, _ = classify(returncode=rc, output=text, timed_out=False, failure_signature=None, timeout=5)
        assert verdict is Verdict.ERROR, text


def test_a_missing_file_of_the_built_package_is_judged_not_excused() -> None:
    text = "Error: Cannot find module '/w/crate/pkg/app_bg.js'\n  code: 'MODULE_NOT_FOUND'"
    assert cannot_run(text, 1, build_output="/w/crate/pkg") is None
    assert classify(returncode=1, output=text, timed_out=False, failure_signature=None, timeout=5,
                    build_output="/w/crate/pkg")[0] is Verdict.BAD
    # The tool's own Node runner reports a check module that did not load as FAIL: plus the error.
    runner = "FAIL: Error [ERR_MODULE_NOT_FOUND]: Cannot find module '/w/crate/helpers.mjs' imported from /w/c.mjs"
    assert cannot_run(runner, 1, build_output="/w/crate/pkg") is not None


def test_the_bug_itself_stays_bad() -> None:
    for name in ("node20-uncaught-typeerror.txt", "chromium156-page.txt", "firefox153-page.txt"):
        assert cannot_run(out(name), 1) is None
        assert classify(returncode=1, output=out(name), timed_out=False, failure_signature="detached",
                        timeout=5)[0] is Verdict.BAD
