"""Commit-level bisection inside wasm-bindgen: the first-parent commits between a good and a bad revision,
searched with the same engine as the release grid (search.least_failing / find_fix). Pure: the oracle, which
checks a commit out, builds its CLI and probes the reproducer, is passed in.

A commit that cannot be tested (no wasm-bindgen crate, a CLI or crate that does not build) answers SKIP and the
search steps around it, like `git bisect skip`; it is never blamed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from . import search
from .model import Verdict

COMMIT_URL = "https://github.com/wasm-bindgen/wasm-bindgen/commit/{sha}"


@dataclass(frozen=True)
class Commit:
    sha: str
    subject: str

    def __str__(self) -> str:
        return f"{self.sha[:12]} \"{self.subject}\""

    def to_json(self) -> dict[str, str]:
        return {"sha": self.sha, "subject": self.subject}


# Exit codes: found (or narrowed to a range around untestable commits) 0; ends that contradict the request or
# nothing testable 3, like SearchAborted.
_EXIT = {search.Status.FOUND: 0, search.Status.RANGE: 0}


def bisect(commits: Sequence[Commit], oracle: Callable[[Commit], Verdict], *, find_fix: bool = False
           ) -> search.Bisection[Commit]:
    """The first bad commit (or, with find_fix, the first commit that passes again); both ends are probed first."""
    if find_fix:
        return search.find_fix(commits, oracle, describe=str)
    return search.least_failing(commits, oracle, describe=str)


def result(found: search.Bisection[Commit], *, find_fix: bool, url: str) -> dict[str, Any]:
    """The JSON-able summary a person (and the store) reads."""
    items = found.items
    first = items[found.first_new] if found.first_new is not None else None
    last_old = items[found.last_old] if found.last_old is not None else None
    github = "github.com/wasm-bindgen/wasm-bindgen" in url or "github.com/rustwasm/wasm-bindgen" in url
    return {
        "mode": "find-fix" if find_fix else "regress",
        "status": str(found.status),
        "message": found.message,
        "terms": {"old": found.old_term, "new": found.new_term},
        "first": first.to_json() if first else None,
        "last_old": last_old.to_json() if last_old else None,
        "candidates": [items[i].to_json() for i in found.candidates],
        "commits": len(items),
        "probes": [{**items[p.index].to_json(), "verdict": str(p.verdict)} for p in found.log],
        "link": COMMIT_URL.format(sha=first.sha) if first and github else None,
        "exit_code": _EXIT.get(found.status, 3),
    }


def headline(data: dict[str, Any]) -> str:
    """One line naming the commit (or the range) the search ended on."""
    new = data["terms"]["new"]
    first = data["first"]
    if first:
        return f"first {new} commit: {first['sha'][:12]} {first['subject']}"
    if data["status"] == str(search.Status.RANGE):
        cands = data["candidates"]
        return (f"the first {new} commit is one of {len(cands)} (untestable commits hide it): "
                + ", ".join(c["sha"][:12] for c in cands))
    return str(data["message"])
