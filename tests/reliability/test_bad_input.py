"""Bad input across all commands: ONE line naming the problem, exit code 2, no traceback, nothing written."""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from .cases import Case
from .cases_round3 import CASES, ROUND3
from .helpers import REAL_HOME, cli_env, linked_home, seed_index, snapshot

DOC = Path(__file__).resolve().parents[2] / "docs" / "reliability.md"


@dataclass(frozen=True)
class Observed:
    rc: int
    errors: list[str]
    stderr: str
    written: list[str]
    seconds: float


def _watched(home: Path, d: Path) -> dict[str, object]:
    """What a failed command must leave untouched: its home (the shared caches only at their top) and `d`."""
    state: dict[str, object] = {"home": snapshot(home), "d": snapshot(d)}
    for name in ("toolchains", "tools"):
        shared = REAL_HOME / name
        state[name] = sorted(p.name for p in shared.iterdir()) if shared.is_dir() else []
    return state


def run_case(case: Case, root: Path) -> Observed:
    d = root / "d"
    d.mkdir(parents=True)
    home = linked_home(root) if case.home == "linked" else root / "home"
    if case.home != "linked":
        seed_index(home)
    if case.setup is not None:
        case.setup(d)
    if case.prepare_home is not None:
        case.prepare_home(home)
    args = [a.replace("{d}", str(d)) for a in case.args]
    env = {k: v.replace("{d}", str(d)) for k, v in case.env}
    before = _watched(home, d)
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "wasm_bisect", *args], input=case.stdin or "", capture_output=True,
                          text=True, timeout=120, env=cli_env(home, env), cwd=d, check=False)
    after = _watched(home, d)
    written = []
    for key, old in before.items():
        new = after[key]
        if isinstance(old, dict) and isinstance(new, dict):
            written += [f"{key}/{k}" for k in sorted(set(new) - set(old)) if not k.startswith("index")]
            written += [f"{key}/{k} (changed)" for k in sorted(set(new) & set(old)) if new[k] != old[k]]
            written += [f"{key}/{k} (removed)" for k in sorted(set(old) - set(new))]
        elif new != old:
            written.append(f"{key} changed")
    written = [w for w in written if not w.startswith(case.allowed)] if case.allowed else written
    errors = [line for line in proc.stderr.splitlines() if "error:" in line]
    return Observed(proc.returncode, errors, proc.stderr, written, time.monotonic() - start)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, tmp_path: Path) -> None:
    assert_refused_as_promised(case, run_case(case, tmp_path))


def assert_refused_as_promised(case: Case, seen: Observed) -> None:
    """The promise for bad input: one line naming the problem, exit code 2, no traceback, nothing written."""
    assert "Traceback" not in seen.stderr, seen.stderr
    assert seen.rc == 2, (seen.rc, seen.stderr)
    assert len(seen.errors) == 1, seen.stderr
    line = seen.errors[0]
    assert line.startswith("wasm-bisect: error: "), line
    assert case.needle.lower() in line.lower(), line
    nonempty = [ln for ln in seen.stderr.splitlines() if ln.strip()]
    assert nonempty[-1] == line, seen.stderr  # the error is the last word
    assert seen.written == [], seen.written


def test_every_case_is_documented() -> None:
    """docs/reliability.md has a row per case (the table is written by hand from this suite's results)."""
    text = DOC.read_text()
    missing = [c.id for c in CASES if f"`{c.id}`" not in text]
    assert not missing, f"add these cases to {DOC}: {missing}"
    assert len(CASES) >= 30
    for issue_class in range(1, 13):  # issue 13: at least three cases of each class
        assert sum(c.issue_class == issue_class for c in CASES) >= 3, issue_class
    groups = {c.group for c in ROUND3}
    assert len(groups) >= 10, groups
    for group in groups:  # issue 21: at least four cases of each group
        assert sum(c.group == group for c in ROUND3) >= 4, group


if __name__ == "__main__":  # print the rows: `python -m tests.reliability.test_bad_input [round2|round3]`
    import re
    import tempfile

    from .cases_round2 import NOTES, ROUND1, ROUND2
    from .cases_round3 import NOTES as NOTES3

    round3 = sys.argv[1:] == ["round3"]
    if round3:
        ROUND2, NOTES = ROUND3, NOTES3
    round2 = sys.argv[1:] in (["round2"], ["round3"])
    setups = {m[1]: m[2] for m in re.finditer(r"^\| `([^`]+)` \| `[^|]*` \| ([^|]*) \|", DOC.read_text(), re.M)}
    for case in ROUND2 if round2 else ROUND1:
        with tempfile.TemporaryDirectory() as tmp:
            seen = run_case(case, Path(tmp))
            text = seen.errors[0].removeprefix("wasm-bisect: error: ") if seen.errors else seen.stderr.strip()[-300:]
            text = text.replace(tmp + "/d", "{d}").replace(tmp + "/home", "<home>")
        ok = seen.rc == 2 and len(seen.errors) == 1 and not seen.written and "Traceback" not in seen.stderr \
            and case.needle.lower() in " ".join(seen.errors).lower()
        command = " ".join(a if len(a) < 60 else a[:40] + "..." for a in case.args).replace("|", "\\|")
        setup = NOTES.get(case.id, "") if round2 else setups.get(case.id, " ").strip()
        first = f"| {case.group if round3 else case.issue_class} " if round2 else ""
        line = (f"{first}| `{case.id}` | `wasm-bisect {command}` | {setup} | {seen.rc} | "
                f"{text[:150] + ('...' if len(text) > 150 else '')} | {', '.join(seen.written) or 'nothing'} |")
        print(line if ok else f"BAD {line}", flush=True)
