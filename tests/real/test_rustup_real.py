"""The rustup provider against a rustup dist server on 127.0.0.1 (tests/fixtures/rustup_dist.py), with the real
`rustup` program: never the real dist server.

The server relabels the machine's two Debian toolchains (debian-1.63.0 with Debian's wasm32 std, debian-1.96.0
with the std the Debian tests built) as stable releases and dated nightlies, so a boundary lies between two
labels. This module's toolchains dir is private (installs from a fake server must not reach the machine's
cache); tools and target dirs are shared. The user's RUSTUP_HOME and CARGO_HOME must not change at all.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fixtures.homes import REAL_HOME, linked_home
from fixtures.rustup_dist import Release, build_packages, serve

from .conftest import wasm_bisect, wasm_bisect_json

pytestmark = [pytest.mark.real, pytest.mark.timeout(1200)]

DEBIAN = {v: REAL_HOME / "toolchains" / f"debian-{v}" for v in ("1.63.0", "1.96.0")}
# Every release rustup:1.78.0..1.84.0 expands to (the bundled list has the patch releases too).
OLD = ["1.78.0", "1.79.0", "1.80.0", "1.80.1"]  # debian 1.63: reference-types off by default
NEW = ["1.81.0", "1.82.0", "1.83.0", "1.84.0"]  # debian 1.96: on by default (detached buffer with 0.2.95)


@pytest.fixture(scope="module", autouse=True)
def real_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """This module's home: the machine's tools and target dirs, its own (empty) toolchains dir. The Debian
    toolchains the dist server is made from are provisioned in the machine's cache (once; CI keeps them)."""
    for version, prefix in DEBIAN.items():
        if not (prefix / "toolchain.json").is_file():
            wasm_bisect("toolchain", "add", f"debian:{version}", env={"WASM_BISECT_HOME": str(REAL_HOME)})
    home = linked_home(tmp_path_factory.mktemp("rustup-home"), private=("toolchains",))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WASM_BISECT_HOME", str(home))
        yield home


@pytest.fixture(scope="module")
def packages() -> dict[str, object]:
    start = time.monotonic()
    cache = REAL_HOME / "fixtures" / "rustup-dist"
    built = {v: build_packages(prefix, cache) for v, prefix in DEBIAN.items()}
    print(f"rustup dist packages ready in {time.monotonic() - start:.1f} s")
    return built  # type: ignore[return-value]


def fingerprint(root: Path) -> str:
    """Every entry under `root` (path, type, mode, size, mtime) and the bytes of every file below 1 MiB."""
    digest = hashlib.sha256()
    if not root.exists():
        return "absent"
    for directory, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(dirs + files):
            path = Path(directory) / name
            info = path.lstat()
            digest.update(f"{path.relative_to(root)}|{info.st_mode}|{info.st_size}|{info.st_mtime_ns}\0".encode())
            if path.is_file() and not path.is_symlink() and info.st_size < (1 << 20):
                digest.update(path.read_bytes())
    return digest.hexdigest()


# cargo's own download caches and their locks: every cargo on the machine writes them (the host cargo this tool
# resolves locks with, and the other jobs of a shared machine), so they are not what a rustup install could touch.
CARGO_CACHES = {"registry", "git", ".package-cache", ".package-cache-mutate", ".global-cache"}


def user_homes() -> dict[str, str]:
    """Fingerprints of the user's RUSTUP_HOME (all of it) and CARGO_HOME (all but cargo's download caches: bin/
    with rustup's proxies, env, config...)."""
    home = Path.home()
    rustup = Path(os.environ.get("RUSTUP_HOME") or home / ".rustup")
    cargo = Path(os.environ.get("CARGO_HOME") or home / ".cargo")
    parts = {"RUSTUP_HOME": fingerprint(rustup)}
    for child in sorted(cargo.iterdir()) if cargo.is_dir() else []:
        if child.name not in CARGO_CACHES:
            parts[f"CARGO_HOME/{child.name}"] = fingerprint(child) if child.is_dir() else fingerprint_file(child)
    return parts


def fingerprint_file(path: Path) -> str:
    info = path.lstat()
    return f"{info.st_mode}|{info.st_size}|{info.st_mtime_ns}|{hashlib.sha256(path.read_bytes()).hexdigest()}"


def installed(home: Path) -> list[str]:
    return sorted(p.name.removeprefix("rustup-") for p in (home / "toolchains").glob("rustup-*")
                  if (p / "toolchain.json").is_file())


def test_bisect_over_a_rustup_range_installs_only_what_it_probes(real_home: Path, packages: dict[str, object],
                                                                  tmp_path: Path) -> None:
    releases = [Release(v, packages["1.63.0"]) for v in OLD] + [Release(v, packages["1.96.0"]) for v in NEW]
    before = user_homes()
    start = time.monotonic()
    with serve(tmp_path / "dist", releases) as server:  # type: ignore[arg-type]
        env = {"RUSTUP_DIST_SERVER": server.url}
        doc = wasm_bisect_json("bisect", "--template", "vec-of-structs", "--rustc", "rustup:1.78.0..1.84.0",
                               "--bindgen", "0.2.93,0.2.95", "--reference-types", "default", "--no-follow-up", env=env)
        downloads = [p for p in server.requests if p.endswith(".tar.zst") or p.endswith(".tar.gz")]
    seconds = time.monotonic() - start
    got = installed(real_home)
    print(f"RUSTUP BISECT: {seconds:.1f} s; installed {len(got)} of {len(OLD + NEW)}: {got}; "
          f"{len(downloads)} package downloads")
    search = doc["bisect"]["searches"][0]
    first = search["first_failing"]
    assert (first["rustc"], first["bindgen"]) == ("rustup:1.81.0", "0.2.95")
    assert first["last_good_rustc"] == "rustup:1.80.1"
    assert first["next_step"].startswith("--rustc rustup:nightly-2024-06-05..nightly-2024-07-17")  # the drill
    assert len(doc["grid"]["rustc"]) == 8
    assert 0 < len(got) < len(OLD + NEW), "only the toolchains the search probed are installed"
    assert len(downloads) == 4 * len(got), "each install downloads rustc, cargo and two rust-std packages"
    assert user_homes() == before, "the user's RUSTUP_HOME / CARGO_HOME changed"
    assert len(before) > 1, before


def test_nightly_range_expands_to_dates_and_skips_what_cannot_be_had(real_home: Path, packages: dict[str, object],
                                                                       tmp_path: Path) -> None:
    old, new = packages["1.63.0"], packages["1.96.0"]
    releases = [Release("nightly-2024-02-01", old), Release("nightly-2024-02-02", new, wasm32=False),
                Release("nightly-2024-02-04", new)]  # no build on 02-03
    before = user_homes()
    start = time.monotonic()
    with serve(tmp_path / "dist", releases) as server:  # type: ignore[arg-type]
        env = {"RUSTUP_DIST_SERVER": server.url}
        proc = wasm_bisect("probe", "--template", "vec-of-structs", "--rustc", "rustup:nightly-2024-02-03",
                           "--bindgen", "0.2.95", env=env, check=False)
        assert proc.returncode != 1, "a toolchain that cannot be had is never a failure of the cell"
        assert "the server has no such release (nightlies skip days)" in proc.stderr + proc.stdout
        doc = wasm_bisect_json("bisect", "--template", "vec-of-structs", "--bindgen", "0.2.95", "--no-follow-up",
                               "--rustc", "rustup:nightly-2024-02-01..nightly-2024-02-04",
                               "--reference-types", "default", env=env)
    got = installed(real_home)
    search = doc["bisect"]["searches"][0]
    print(f"RUSTUP NIGHTLIES: {time.monotonic() - start:.1f} s; installed {got}; {search['message']}")
    assert doc["grid"]["rustc"] == [f"rustup:nightly-2024-02-0{d}" for d in range(1, 5)]
    verdicts = {c["rustc"]: (c["verdict"], c["reason"] or "") for c in doc["cells"]}
    assert verdicts["rustup:nightly-2024-02-01"][0] == "good" and verdicts["rustup:nightly-2024-02-04"][0] == "bad"
    skipped = {r: why for r, (v, why) in verdicts.items() if v == "skip"}
    assert "no wasm32-unknown-unknown std" in skipped["rustup:nightly-2024-02-02"]
    assert "no such release" in skipped["rustup:nightly-2024-02-03"]
    first = search["first_failing"]  # the skipped dates hide the exact boundary: never blamed, said out loud
    assert first is None or first["rustc"] == "rustup:nightly-2024-02-04"
    assert {"nightly-2024-02-01", "nightly-2024-02-04"} <= set(got)
    assert not {"nightly-2024-02-02", "nightly-2024-02-03"} & set(got)
    assert user_homes() == before


def test_installs_are_exportable_and_pruned(real_home: Path) -> None:
    from wasm_bisect import toolchains

    have = installed(real_home)
    assert have, "the tests above installed some"
    listed = wasm_bisect("toolchain", "list").stdout
    assert all(f"rustup:{v}" in listed for v in have), listed
    exported = {p.name for p in toolchains.managed_prefixes()}  # what `cache export` writes
    assert {f"rustup-{v}" for v in have} <= exported
    wasm_bisect("cache", "prune", "--toolchains")
    assert installed(real_home) == []
    assert (REAL_HOME / "toolchains" / "debian-1.96.0" / "toolchain.json").is_file()


def test_toolchain_available_debian_reads_the_archive_beyond_this_machines_sources() -> None:
    """Debian's archive through the private apt configuration (lists shared by the test homes, refreshed weekly):
    what runs on this Debian 12 (glibc 2.36) and why the rest cannot."""
    start = time.monotonic()
    rows = wasm_bisect_json("toolchain", "available", "debian")
    text = wasm_bisect("toolchain", "available", "debian").stdout
    print(f"AVAILABLE DEBIAN: {time.monotonic() - start:.1f} s\n{text}")
    runnable = {r["version"]: r for r in rows if r["runnable"]}
    assert {"1.48.0", "1.63.0", "1.78.0", "1.85.0", "1.96.0"} <= set(runnable)
    assert runnable["1.48.0"]["suite"].startswith("bullseye") and runnable["1.48.0"]["prebuilt_wasm32_std"]
    assert runnable["1.63.0"]["prebuilt_wasm32_std"]
    assert runnable["1.78.0"]["package"] == "rustc-web"
    others = [r for r in rows if not r["runnable"]]
    assert others and all("needs glibc" in r["why_not"] for r in others), others
    assert not (Path("/etc/apt/sources.list.d") / "debian.sources").read_text().count("bullseye")  # untouched


def test_drill_nightly_narrows_a_stable_boundary_to_one_nightly_and_hands_off(
        real_home: Path, packages: dict[str, object], tmp_path: Path) -> None:
    """1.80.1 good, 1.81.0 bad: `--drill nightly` bisects the nightlies that became 1.81.0 (the server has four of
    the 43 dates: the rest are skipped, never blamed) to 2024-06-21, then prints the cargo-bisect-rustc command
    for that day with a script that probes the cell with each toolchain cargo-bisect-rustc tries."""
    import json
    import shlex

    old, new = packages["1.63.0"], packages["1.96.0"]
    releases = [Release("1.80.1", old), Release("1.81.0", new), Release("nightly-2024-06-05", old),
                Release("nightly-2024-06-20", old), Release("nightly-2024-06-21", new),
                Release("nightly-2024-07-17", new)]
    start = time.monotonic()
    with serve(tmp_path / "dist", releases) as server:  # type: ignore[arg-type]
        proc = wasm_bisect("bisect", "--template", "vec-of-structs", "--rustc", "rustup:1.80.1,rustup:1.81.0",
                           "--bindgen", "0.2.93,0.2.95", "--reference-types", "default", "--no-follow-up",
                           "--drill", "nightly", "--json", env={"RUSTUP_DIST_SERVER": server.url})
    print(f"DRILL: {time.monotonic() - start:.1f} s")
    doc = json.loads(proc.stdout)
    stable = doc["bisect"]["searches"][0]["first_failing"]
    assert (stable["rustc"], stable["last_good_rustc"]) == ("rustup:1.81.0", "rustup:1.80.1")
    [drill] = doc["drill"]
    assert drill["grid"]["bindgen"] == ["0.2.95"] and len(drill["grid"]["rustc"]) == 43
    first = drill["bisect"]["searches"][0]["first_failing"]
    assert (first["rustc"], first["last_good_rustc"]) == ("rustup:nightly-2024-06-21", "rustup:nightly-2024-06-20")
    skipped = [c for c in drill["cells"] if c["verdict"] == "skip"]
    assert all("no such release" in c["reason"] for c in skipped)  # a missing date is never blamed
    argv = shlex.split(first["next_step"].split(" (")[0])
    assert argv[:6] == ["cargo", "bisect-rustc", "--start", "2024-06-20", "--end", "2024-06-21"]
    script = Path(argv[argv.index("--script") + 1])
    text = script.read_text()
    assert script.stat().st_mode & 0o111 and '--rustc "path:$sysroot"' in text
    assert "--bindgen 0.2.95 --reference-types default" in text and "--exit-code" in text
