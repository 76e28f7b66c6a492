"""Real toolchain provisioning: Debian packages unpacked side by side, wasm32 std built, cdylibs run in node.

Toolchains are the shared, content-addressed part of the machine's cache (the module's private home links
them), so the slow first provisioning is paid once and reused by later runs. Prints PROVISION lines with the step
timings. The atomicity and concurrency tests at the end provision into a fully private toolchains dir.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from wasm_bisect import toolchains
from wasm_bisect.domain.errors import ProvisionError, UsageError
from wasm_bisect.domain.model import ToolchainSpec
from wasm_bisect.toolchains import Toolchain
from wasm_bisect.toolchains import debian as toolchains_debian
from wasm_bisect.util import paths
from wasm_bisect.util.wasmfile import has_feature, read_target_features

pytestmark = [pytest.mark.real, pytest.mark.timeout(3600)]

SPECS = ["debian:1.63.0", "debian:1.85.0", "debian:1.96.0"]
NEW_DEFAULT = ["debian:1.85.0", "debian:1.96.0"]  # rustc >= 1.82: reference-types on by default

LIB_RS = '#[no_mangle]\npub extern "C" fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n'
NODE_ADD = (
    "const fs = require('fs');"
    "WebAssembly.instantiate(fs.readFileSync(process.argv[1]), {})"
    ".then(({instance}) => console.log(instance.exports.add(2, 3)))"
    ".catch((e) => { console.error(e); process.exit(1); });"
)

_provisioned: dict[str, Toolchain] = {}


def provision(spec: str) -> Toolchain:
    """Provision once per session (through resolve, as build code does) and print what it cost."""
    if spec not in _provisioned:
        start = time.monotonic()
        # With its reference-types-off std, as `toolchain add --with-mvp-std` (a probe would build it lazily).
        toolchain = toolchains.resolve(ToolchainSpec.parse(spec), progress=lambda m: print(f"  {m}"), mvp_std=True)
        seconds = time.monotonic() - start
        manifest = toolchains.read_manifest_data(toolchain.sysroot.parent)
        print(f"PROVISION {spec}: {seconds:.1f} s now; manifest timings {manifest.get('timings')}")
        _provisioned[spec] = toolchain
    return _provisioned[spec]


def build_add(toolchain: Toolchain, crate: Path, *, rustflags: list[str] | None = None) -> bytes:
    """Build a dependency-free `add` cdylib with the toolchain's own cargo (offline) and return the module."""
    (crate / "src").mkdir(parents=True)
    (crate / "Cargo.toml").write_text(
        '[package]\nname = "add"\nversion = "0.1.0"\nedition = "2018"\n\n[lib]\ncrate-type = ["cdylib"]\n'
    )
    (crate / "src" / "lib.rs").write_text(LIB_RS)
    # A user's RUSTFLAGS must not leak in: environ() drops it, then we set ours on purpose.
    env = toolchain.environ({**os.environ, "RUSTFLAGS": "-Ctarget-feature=+reference-types"})
    if rustflags:
        env["RUSTFLAGS"] = " ".join(rustflags)
    assert shutil.which("cargo", path=env["PATH"]) == str(toolchain.cargo)  # its cargo, not rustup's proxy
    proc = subprocess.run(
        ["cargo", "build", "--offline", "--release", "--target", "wasm32-unknown-unknown"],
        cwd=crate,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    sys.stderr.write(proc.stderr)
    assert proc.returncode == 0, proc.stderr
    return (crate / "target" / "wasm32-unknown-unknown" / "release" / "add.wasm").read_bytes()


def node_add(module: bytes, tmp: Path) -> str:
    path = tmp / "add.wasm"
    path.write_bytes(module)
    proc = subprocess.run(
        ["node", "-e", NODE_ADD, str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


@pytest.mark.parametrize("spec", SPECS)
def test_cdylib_built_with_its_cargo_runs_in_node(spec: str, tmp_path: Path) -> None:
    toolchain = provision(spec)
    assert toolchain.wasm32_std
    assert toolchain.version == spec.split(":")[1]
    module = build_add(toolchain, tmp_path / "crate")
    assert node_add(module, tmp_path) == "5"
    features = read_target_features(module)
    print(f"{spec} default target_features: {features}")
    assert has_feature(features, "reference-types") is (spec in NEW_DEFAULT)


@pytest.mark.parametrize("spec", NEW_DEFAULT)
def test_mvp_sysroot_turns_reference_types_off(spec: str, tmp_path: Path) -> None:
    toolchain = provision(spec)
    assert toolchain.mvp_sysroot is not None
    flags = toolchain.reference_types_off_rustflags()
    module = build_add(toolchain, tmp_path / "crate", rustflags=flags)
    features = read_target_features(module)
    print(f"{spec} mvp target_features: {features}")
    assert not has_feature(features, "reference-types")
    assert node_add(module, tmp_path) == "5"


def test_rustc_163_uses_debians_prebuilt_wasm32_std() -> None:
    toolchain = provision("debian:1.63.0")
    manifest = toolchains.read_manifest_data(toolchain.sysroot.parent)
    assert manifest["wasm32_std_source"] == "debian package"
    assert "libstd-rust-dev-wasm32" in manifest["packages"]
    assert toolchain.mvp_sysroot is None  # nothing to turn off before 1.82
    assert toolchain.cargo_version == "1.65.0"  # Debian's cargo 0.66 package reports itself as 1.65.0


def _tree_state(prefix: Path) -> dict[str, int]:
    """Each entry of the prefix's top level (its manifest, sysroots, bin/) and its modification time."""
    return {p.name: p.stat().st_mtime_ns for p in prefix.iterdir()}


@pytest.mark.parametrize("spec", SPECS)
def test_second_provision_is_a_fast_noop(spec: str) -> None:
    first = provision(spec)
    prefix = first.sysroot.parent
    before = _tree_state(prefix)
    start = time.monotonic()
    again = toolchains.resolve(ToolchainSpec.parse(spec))
    print(f"WARM {spec}: {(time.monotonic() - start) * 1000:.0f} ms")
    assert again == first
    assert _tree_state(prefix) == before, "a warm resolve wrote into the toolchain's prefix"
    assert not list(paths.toolchains_dir().glob(f".staging-debian-{first.version}-*"))


def test_installed_lists_the_provisioned_toolchains() -> None:
    for spec in SPECS:
        provision(spec)
    listed = {str(t.spec): t for t in toolchains.installed()}
    for spec in SPECS:
        assert listed[spec].wasm32_std
    assert listed["debian:1.96.0"].mvp_sysroot is not None


def test_unknown_debian_version_is_one_line_listing_available() -> None:
    with pytest.raises(UsageError) as info:
        toolchains.resolve(ToolchainSpec.parse("debian:1.70.0"))
    line = info.value.one_line()
    print(line)
    assert "\n" not in line
    assert "debian:1.63.0" in line
    assert "debian:1.96.0" in line
    assert not (paths.toolchains_dir() / "debian-1.70.0").exists()


def test_path_provider_on_an_unpacked_prefix() -> None:
    debian_tc = provision("debian:1.96.0")
    spec = ToolchainSpec.parse(f"path:{debian_tc.sysroot.resolve()}")  # how the registry names it
    try:
        toolchain = toolchains.resolve(spec)
        assert toolchain.version == "1.96.0"
        # Found next to the prefix (a path: toolchain resolves symlinks, the module's home links the cache).
        assert toolchain.mvp_sysroot is not None and debian_tc.mvp_sysroot is not None
        assert toolchain.mvp_sysroot.resolve() == debian_tc.mvp_sysroot.resolve()
        assert toolchain.env["LD_LIBRARY_PATH"].startswith(str(debian_tc.sysroot.resolve() / "lib"))
        assert spec in {t.spec for t in toolchains.installed()}
    finally:
        toolchains.remove(spec)
    assert spec not in {t.spec for t in toolchains.installed()}


def test_rustup_lists_only_its_own_installs_and_the_bundled_releases_offline(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The user's rustup toolchains (~/.rustup) are never used or listed; offline, ranges pick from the bundled
    stable list (tests/real/test_rustup_real.py installs from a local dist server)."""
    monkeypatch.setenv("RUSTUP_DIST_SERVER", "http://127.0.0.1:9")  # nothing listens: offline, in seconds
    provider = toolchains.provider("rustup")
    names = provider.available()
    found = provider.installed()
    print(f"rustup: {len(names)} releases, newest {names[-1]}; installed here: {[str(t.spec) for t in found]}")
    assert {"1.63.0", "1.82.0", "1.96.0"} <= set(names)
    assert all(t.sysroot.resolve().is_relative_to(paths.toolchains_dir().resolve()) for t in found)
    with pytest.raises(ProvisionError, match="not provisioned"):
        toolchains.resolve(ToolchainSpec.parse("rustup:1.95.0"), provision=False)  # ~/.rustup has it: not ours


# ---------------------------------------------------------------------------------------------------------
# Atomicity and concurrency, in a private home that shares the real .deb cache (1.63: no std build, fast)


@pytest.fixture
def private_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    shared_downloads = paths.downloads_dir()
    shared_downloads.mkdir(parents=True, exist_ok=True)
    home = tmp_path / "home"
    home.mkdir()
    (home / "downloads").symlink_to(shared_downloads)
    monkeypatch.setenv(paths.HOME_ENV, str(home))
    yield home


def test_failed_provisioning_leaves_only_downloads(
    private_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        raise ProvisionError("simulated verification failure")

    monkeypatch.setattr(toolchains_debian, "check_features", broken)
    with pytest.raises(ProvisionError, match="simulated"):
        toolchains.resolve(ToolchainSpec.parse("debian:1.63.0"))
    assert list((private_home / "toolchains").iterdir()) == []
    assert any(paths.downloads_dir().glob("rustc_1.63.0*.deb"))


def test_concurrent_provisioning_builds_once(private_home: Path) -> None:
    script = (
        "import json, sys\nfrom wasm_bisect import toolchains\nfrom wasm_bisect.domain.model import ToolchainSpec\n"
        "t = toolchains.resolve(ToolchainSpec.parse('debian:1.63.0'))\nprint(json.dumps(t.to_json()))\n"
    )
    env = {**os.environ, paths.HOME_ENV: str(private_home)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    results = [p.communicate(timeout=1200) for p in procs]
    for proc, (_out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
    first, second = (json.loads(out) for out, _ in results)
    assert first == second
    assert sorted(p.name for p in (private_home / "toolchains").iterdir()) == ["debian-1.63.0"]
    log = (private_home / "logs" / "toolchains" / "debian-1.63.0.log").read_text()
    assert log.count("dpkg-deb -x") == len(
        json.loads((private_home / "toolchains/debian-1.63.0/toolchain.json").read_text())["packages"]
    )  # unpacked once
