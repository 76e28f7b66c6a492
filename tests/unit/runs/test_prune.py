"""cache info / prune: only what can be made again goes, and never what a running probe or build holds."""

import json
import sys
from pathlib import Path

import pytest

from wasm_bisect import cli
from wasm_bisect.runs import prune as cache
from wasm_bisect.util import fs as fsutil
from wasm_bisect.util import paths


def _tree(home: Path) -> dict[str, Path]:
    work = home / "work"
    made = {
        "variant": work / "0123456789abcdef0123",
        "busy_variant": work / "fedcba9876543210fedc",
        "other": work / "notes",
        "slot0": work / "targets" / "debian-1.96.0-e3b0c442" / "slot0",
        "slot1": work / "targets" / "debian-1.96.0-e3b0c442" / "slot1",
        "toolchain": home / "toolchains" / "debian-1.63.0",
    }
    for path in made.values():
        (path / "sub").mkdir(parents=True)
        (path / "sub" / "file").write_bytes(b"x" * 1000)
    paths.store_path().write_bytes(b"")  # must survive
    return made


def test_prune_removes_work_and_targets_but_not_what_is_held(home: Path) -> None:
    made = _tree(home)
    with fsutil.lock("probe-fedcba9876543210fedc"), fsutil.lock("target-debian-1.96.0-e3b0c442-1"):
        dry = cache.prune(cache.PRUNABLE, dry_run=True)
        assert made and [n for n, p in made.items() if not p.exists()] == []
        result = cache.prune(cache.PRUNABLE)
    assert sorted(result.removed) == sorted(dry.removed) == sorted([made["variant"], made["slot0"]])
    assert sorted(result.busy) == sorted([made["busy_variant"], made["slot1"]])
    assert result.freed == 2000
    assert not made["variant"].exists() and not made["slot0"].exists()
    for kept in ("busy_variant", "slot1", "other", "toolchain"):
        assert made[kept].exists(), kept
    assert paths.store_path().exists()


def test_prune_one_kind_and_usage(home: Path) -> None:
    made = _tree(home)
    result = cache.prune(("targets",))
    assert sorted(result.removed) == sorted([made["slot0"], made["slot1"]])
    assert made["variant"].exists()
    usage = {u.name: u for u in cache.usage()}
    assert usage["work"].entries == 2 and usage["work"].bytes == 2000  # variant dirs only
    assert usage["toolchains"].bytes == 1000
    assert cache.human(3 * 1024 * 1024) == "3.0 MiB"


def test_cache_commands(home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    made = _tree(home)
    monkeypatch.setattr(sys, "argv", ["wasm-bisect", "cache", "prune", "--work", "--json"])
    with pytest.raises(SystemExit) as info:
        cli.main()
    assert info.value.code in (0, None)
    out = json.loads(capsys.readouterr().out)
    assert sorted(out["directories"]) == sorted([str(made["busy_variant"]), str(made["variant"])])
    assert out["bytes"] == 2000
    assert made["slot0"].exists()


def test_a_slots_test_target_dir_goes_with_its_slots_lock(home: Path) -> None:
    family = home / "work" / "targets" / "debian-1.96.0-e3b0c442"
    for name in ("slot0-test", "slot1-test"):
        (family / name / "sub").mkdir(parents=True)
    with fsutil.lock("target-debian-1.96.0-e3b0c442-1"):  # slot 1 is building (or testing): its dirs stay
        result = cache.prune(("targets",))
    assert result.removed == [family / "slot0-test"] and result.busy == [family / "slot1-test"]
