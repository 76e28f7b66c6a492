"""`bisect --prompt` for real: a person (this script) judges each built cell through a pseudo-terminal, then `mark`
corrects one verdict and the re-run answers from the store without building anything."""

from __future__ import annotations

import json
import re
import time
from typing import Any

from ._pty import converse
from .conftest import wasm_bisect, wasm_bisect_json

GRID = ["--template", "vec-of-structs", "--rustc", "debian:1.96.0", "--bindgen", "0.2.93,0.2.95,0.2.99",
        "--reference-types", "default", "--no-follow-up"]


def _newest_run() -> dict[str, Any]:
    run: dict[str, Any] = json.loads(wasm_bisect("log", "--json").stdout)
    return run


def test_a_person_judges_each_cell_then_a_mark_changes_the_answer() -> None:
    start = time.monotonic()
    automated = wasm_bisect_json("bisect", *GRID)
    first = automated["bisect"]["searches"][0]["first_failing"]
    assert (first["rustc"], first["bindgen"]) == ("debian:1.96.0", "0.2.95")

    replies: list[str] = []

    def person(cell: str, screen: str) -> str:
        """Answer what the check said (shown above the question); one retry first, one skip on 0.2.95."""
        said = re.findall(r"the check says: (\w+)", screen)[-1]
        reply = "retry" if not replies else "skip" if "@0.2.95[" in cell else said
        replies.append(f"{cell} {reply}")
        return reply

    began = time.monotonic()
    rc, screen = converse(["bisect", *GRID, "--prompt"], person)
    prompted = time.monotonic() - began
    assert rc == 0, screen
    assert [r.split()[1] for r in replies].count("retry") == 1
    assert "building it again" in screen
    assert "module target_features:" in screen and "externref transform: yes" in screen
    assert "crate: " in screen and "pkg:   " in screen and "output (last lines):" in screen
    assert "by a person" in screen
    session = _newest_run()
    result = session["run"]["result"]
    assert result["probes"]["built"] == 3  # three cells asked; the check's builds were reused, one was retried
    assert result["first_failing"] is None  # the person skipped 0.2.95: the first bad is 0.2.95 or 0.2.99
    assert {c["bindgen"] for c in result["searches"][0]["candidates"]} == {"0.2.95", "0.2.99"}
    assert all(p["outcome"]["by"] == "person" for p in session["probes"])
    assert session["run"]["config"]["judge"] == "person"

    wasm_bisect("mark", session["run"]["run_id"], "bad", "debian:1.96.0@0.2.95")
    began = time.monotonic()
    rc, screen = converse(["bisect", *GRID, "--prompt"], lambda cell, _: "quit")
    assert rc == 0, screen
    assert "? " not in screen.split("\n")[-2], "answered from the store, nothing asked"
    rerun = _newest_run()["run"]["result"]
    assert rerun["probes"]["built"] == 0 and rerun["probes"]["from_store"] == 3
    assert (rerun["first_failing"]["rustc"], rerun["first_failing"]["bindgen"]) == ("debian:1.96.0", "0.2.95")
    # One cell with `probe --prompt --fresh` (the session above judged it: the store would answer), built again.
    rc, screen = converse(["probe", "--template", "vec-of-structs", "--rustc", "debian:1.96.0", "--bindgen", "0.2.93",
                           "--prompt", "--fresh"], lambda cell, _: "good")
    assert rc == 0 and "the check says: good" in screen and "marked good by a person" in screen, screen
    print(f"prompted session {prompted:.0f} s, re-run after the mark {time.monotonic() - began:.0f} s, "
          f"whole test {time.monotonic() - start:.0f} s")
