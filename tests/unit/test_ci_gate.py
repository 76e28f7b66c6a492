"""tests/conftest.py's CI gate: under WASM_BISECT_CI=1 a skip, an xfail or an xpass fails the run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CONFTEST = Path(__file__).resolve().parents[1] / "conftest.py"
CASES = {
    "skip": "import pytest\n\n\n@pytest.mark.skip(reason='not here')\ndef test_x():\n    pass\n",
    "xfail": "import pytest\n\n\n@pytest.mark.xfail(reason='known')\ndef test_x():\n    assert False\n",
    "xpass": "import pytest\n\n\n@pytest.mark.xfail(reason='stale', strict=False)\ndef test_x():\n    pass\n",
    "pass": "def test_x():\n    pass\n",
}


def _run(tmp_path: Path, case: str, *, ci: bool) -> subprocess.CompletedProcess[str]:
    tmp_path.mkdir(exist_ok=True)
    shutil.copy(CONFTEST, tmp_path / "conftest.py")
    (tmp_path / f"test_{case}.py").write_text(CASES[case])
    env = {k: v for k, v in os.environ.items() if k != "WASM_BISECT_CI"} | ({"WASM_BISECT_CI": "1"} if ci else {})
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                          capture_output=True, text=True, env=env, cwd=tmp_path, check=False, timeout=120)


@pytest.mark.subprocess
@pytest.mark.parametrize("case", ["skip", "xfail", "xpass"])
def test_not_run_tests_fail_under_ci(tmp_path: Path, case: str) -> None:
    proc = _run(tmp_path, case, ci=True)
    assert proc.returncode == 1, proc.stdout
    assert "count as failures: " in proc.stdout and "test_x" in proc.stdout


@pytest.mark.subprocess
def test_passing_tests_pass_under_ci_and_an_xfail_passes_outside_it(tmp_path: Path) -> None:
    assert _run(tmp_path, "pass", ci=True).returncode == 0
    assert _run(tmp_path / "outside-ci", "xfail", ci=False).returncode == 0


def test_xfail_is_strict(pytestconfig: pytest.Config) -> None:
    assert pytestconfig.getini("xfail_strict") is True
