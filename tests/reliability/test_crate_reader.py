"""Round 3 (issue 21) for the crate reader: every case is ONE line, exit code 2, no traceback, nothing written
(the round-1 promise, checked by the same runner as test_bad_input.py). docs/reliability.md lists them."""

from __future__ import annotations

from pathlib import Path

import pytest

from .cases import Case
from .cases_round3_crate import CASES
from .test_bad_input import DOC, assert_refused_as_promised, run_case


@pytest.mark.timeout(300)
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_crate_reader_refuses(case: Case, tmp_path: Path) -> None:
    seen = run_case(case, tmp_path)
    assert_refused_as_promised(case, seen)
    assert seen.seconds < 60, "a refusal must not wait on a FIFO, a device or a huge file"


def test_every_round3_crate_case_is_documented() -> None:
    text = DOC.read_text()
    missing = [c.id for c in CASES if f"`{c.id}`" not in text]
    assert not missing, f"add these cases to {DOC}: {missing}"
