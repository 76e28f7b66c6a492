"""cache export on one home, cache import into an empty one, then a real probe there builds no tool."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from fixtures.homes import REAL_HOME

from .conftest import assert_probe_built, wasm_bisect, wasm_bisect_json


def _copy(src: Path, dst: Path) -> None:
    """A copy of a cache entry (hard links where the filesystem allows: the entries are never written to)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    if subprocess.run(["cp", "-al", str(src), str(dst)], check=False, capture_output=True).returncode != 0:
        shutil.copytree(src, dst, symlinks=True)


def test_export_import_then_probe_without_building_tools(tmp_path: Path) -> None:
    source, target = tmp_path / "exporter", tmp_path / "importer"
    wasm_bisect("toolchain", "add", "debian:1.63.0")
    wasm_bisect("tools", "install", "--bindgen", "0.2.92", "--wasm-pack")
    _copy(REAL_HOME / "toolchains" / "debian-1.63.0", source / "toolchains" / "debian-1.63.0")
    for entry in ("wasm-bindgen/0.2.92", "wasm-pack/0.13.1"):
        _copy(REAL_HOME / "tools" / entry, source / "tools" / entry)
    archive = tmp_path / "cache.tar.gz"
    exported = wasm_bisect_json("cache", "export", str(archive), env={"WASM_BISECT_HOME": str(source)})
    assert sorted(e["path"] for e in exported["entries"]) == [
        "toolchains/debian-1.63.0", "tools/wasm-bindgen/0.2.92", "tools/wasm-pack/0.13.1"]
    imported = wasm_bisect_json("cache", "import", str(archive), env={"WASM_BISECT_HOME": str(target)})
    assert sorted(imported["added"]) == sorted(e["path"] for e in exported["entries"])
    probe = wasm_bisect("probe", "--template", "smoke", "--rustc", "debian:1.63.0", "--bindgen", "0.2.92", "--json",
                        env={"WASM_BISECT_HOME": str(target)})
    probed = json.loads(probe.stdout)
    assert_probe_built(probed)
    doc = probed["probe"]
    assert doc["outcome"]["verdict"] == "good"
    assert "building wasm-bindgen" not in probe.stderr and "building wasm-pack" not in probe.stderr
    assert not (target / "tools" / "logs").exists()  # no cargo install ran in the importing home
    assert not (target / "downloads").exists()  # and no Debian package was fetched
