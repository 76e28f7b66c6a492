"""The release list: a fresh cache, else the crates.io index (then cached), else the bundled list, never a crash."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from wasm_bisect.bindgen import index
from wasm_bisect.domain import versions
from wasm_bisect.util import paths

LIB = '{"vers":"0.2.98","yanked":false,"rust_version":"1.57"}\n{"vers":"0.2.99","yanked":false}\n'
CLI = '{"vers":"0.2.99","yanked":true}\n'


def test_fetch_merges_library_and_cli_and_caches(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    monkeypatch.setattr(index, "_fetch", lambda name: CLI if name.endswith("-cli") else LIB)
    got = index.releases()
    assert [(r.version, r.cli_yanked) for r in got] == [("0.2.98", False), ("0.2.99", True)]
    monkeypatch.setattr(index, "_fetch", lambda name: (_ for _ in ()).throw(AssertionError("no second fetch")))
    assert [r.version for r in index.releases()] == ["0.2.98", "0.2.99"]  # from the cache, within a day


def test_unreachable_index_falls_back_to_the_bundled_list(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    def offline(_name: str) -> str:
        raise OSError("network is unreachable")

    notices: list[str] = []
    monkeypatch.setattr(index, "_fetch", offline)
    got = index.releases(notice=notices.append)
    assert got == list(versions.bundled_releases())
    assert notices and "bundled" in notices[0]
    assert not (paths.home() / "index").exists()  # nothing cached from a failure


def test_a_stale_or_damaged_cache_is_fetched_again(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    cache = paths.home() / "index" / "bindgen_versions.toml"
    cache.parent.mkdir(parents=True)
    cache.write_text("not toml [[[")
    monkeypatch.setattr(index, "_fetch", lambda name: CLI if name.endswith("-cli") else LIB)
    assert [r.version for r in index.releases()] == ["0.2.98", "0.2.99"]
    old = time.time() - index.CACHE_SECONDS - 60
    os.utime(cache, (old, old))
    monkeypatch.setattr(index, "_fetch", lambda name: '{"vers":"0.2.100","yanked":false}\n')
    assert [r.version for r in index.releases()] == ["0.2.100"]
