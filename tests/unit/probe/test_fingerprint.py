"""Stored verdicts are keyed on the tool's own verdict-deciding code: other code never answers from the store."""

from __future__ import annotations

from pathlib import Path

import pytest

from wasm_bisect.domain.model import BindgenSource, Outcome, ToolchainSpec, Variant, Verdict
from wasm_bisect.probe import fingerprint, templates
from wasm_bisect.store import Store


def test_engine_hash_is_stable_and_covers_the_build_code() -> None:
    first = fingerprint.engine()
    fingerprint.engine.cache_clear()
    assert fingerprint.engine() == first and len(first) == 16
    covered = {p.relative_to(fingerprint._ROOT).as_posix() for part in fingerprint._DECIDING
               for p in ((fingerprint._ROOT / part).rglob("*.py") if (fingerprint._ROOT / part).is_dir()
                         else [fingerprint._ROOT / part])}
    assert {"probe/build.py", "probe/check.py", "toolchains/base.py", "bindgen/toolcache.py"} <= covered


def test_a_verdict_stored_by_other_code_is_not_reused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    tmpl = templates.load("smoke")
    variant = Variant(template="smoke", rustc=ToolchainSpec.parse("debian:1.96.0"),
                      bindgen=BindgenSource.crates("0.2.99"))
    store = Store(tmp_path / "store.sqlite3")
    old_check = tmpl.check_hash
    store.put(variant, tmpl.content_hash, old_check, Outcome(verdict=Verdict.BAD, reason="old code said so"))
    assert store.get(variant, tmpl.content_hash, old_check) is not None
    monkeypatch.setattr(fingerprint, "engine", lambda: "another-version")  # the tool was upgraded
    upgraded = templates.load("smoke")
    assert upgraded.content_hash == tmpl.content_hash and upgraded.check_hash != old_check
    assert store.get(variant, upgraded.content_hash, upgraded.check_hash) is None
