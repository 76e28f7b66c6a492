"""toolchains + debian: pure logic and cache handling, with fake apt data; no process is ever started."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pytest

from wasm_bisect import toolchains
from wasm_bisect.domain import compat, versions
from wasm_bisect.domain.errors import ProvisionError, Untestable, UsageError
from wasm_bisect.domain.model import ToolchainSpec
from wasm_bisect.toolchains import Toolchain
from wasm_bisect.toolchains import base as toolchains_base
from wasm_bisect.toolchains import debian as toolchains_debian
from wasm_bisect.toolchains import debian_apt as debian
from wasm_bisect.toolchains import rustup as toolchains_rustup
from wasm_bisect.util import paths

# `apt-cache madison rustc rustc-web` on Debian 12, plus a source row and an older build of 1.96.0.
MAIN = "http://deb.debian.org/debian bookworm/main"
SECURITY = "http://deb.debian.org/debian-security bookworm-security/main"
MADISON = f"""\
     rustc | 1.63.0+dfsg1-2 | {MAIN} amd64 Packages
 rustc-web | 1.96.0+dfsg1-1~deb12u2 | {SECURITY} amd64 Packages
 rustc-web | 1.96.0+dfsg1-1~deb12u1 | {MAIN} amd64 Packages
 rustc-web | 1.85.0+dfsg3-1~deb12u3 | {MAIN} amd64 Packages
     rustc | 1.63.0+dfsg1-2 | {MAIN} Sources
"""


# ---------------------------------------------------------------------------------------------------------
# Debian versions and control data


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("1.0", "1.0", 0),
        ("0:1.0", "1.0", 0),
        ("1:14.0.6-12", "22.1.8-1", 1),  # the epoch wins
        ("1.0~rc1", "1.0", -1),  # tilde sorts before everything, even the end
        ("1.96.0+dfsg1-1~deb12u2", "1.96.0+dfsg1-1~deb12u1", 1),
        ("1.96.0+dfsg1-1~deb12u2", "1.96.0+dfsg1-1", -1),
        ("7.88.1-10+deb12u15", "7.88.1-10+deb12u5", 1),  # numbers compare as numbers
        ("1.0a", "1.0", 1),
        ("1.0", "1.0.1", -1),
        ("1.0-1", "1.0-1.1", -1),
        ("2.9.4-5", "2.9.4-05", 0),
    ],
)
def test_compare_versions(a: str, b: str, expected: int) -> None:
    assert debian.compare_versions(a, b) == expected
    assert debian.compare_versions(b, a) == -expected


def test_satisfies_relations() -> None:
    assert debian.satisfies("1.63.0+dfsg1-2", ">=", "1.24")
    assert debian.satisfies("1:22.1.8-1~deb12u1", "=", "1:22.1.8-1~deb12u1")
    assert not debian.satisfies("0.66.0+ds1-1", "<<", "0.65.0~~")
    assert debian.satisfies("0.64.1", "<<", "0.65.0~~")
    assert debian.satisfies("anything", None, None)


def test_upstream_version() -> None:
    assert debian.upstream_version("1.96.0+dfsg1-1~deb12u2") == "1.96.0"
    assert debian.upstream_version("1:22.1.8-1~deb12u1") == "22.1.8"
    assert debian.upstream_version("weird") is None


def test_parse_depends() -> None:
    groups = debian.parse_depends(
        "libc6 (>= 2.34), gcc | clang | c-compiler, python3:any, libstd-rust-dev (= 1.63.0+dfsg1-2)"
    )
    assert [[d.name for d in g] for g in groups] == [
        ["libc6"],
        ["gcc", "clang", "c-compiler"],
        ["python3"],
        ["libstd-rust-dev"],
    ]
    assert groups[0][0] == debian.Dep("libc6", ">=", "2.34")
    assert groups[3][0].op == "="
    assert debian.parse_depends("") == []
    with pytest.raises(ValueError, match="cannot parse"):
        debian.parse_depends("Not A Package!!")


def test_parse_control_joins_continuation_lines() -> None:
    text = "Package: a\nVersion: 1\nDescription: short\n long text\n .\n\nPackage: b\nVersion: 2\n"
    paragraphs = debian.parse_control(text)
    assert [p["Package"] for p in paragraphs] == ["a", "b"]
    assert paragraphs[0]["Description"] == "short\nlong text\n."


def test_parse_madison_drops_sources() -> None:
    rows = debian.parse_madison(MADISON)
    assert len(rows) == 4
    assert rows[0] == debian.MadisonRow(
        package="rustc",
        version="1.63.0+dfsg1-2",
        origin=f"{MAIN} amd64 Packages",
    )


def test_releases_map_versions_to_flavours() -> None:
    releases = debian.releases_from_madison(debian.parse_madison(MADISON))
    assert list(releases) == ["1.63.0", "1.85.0", "1.96.0"]
    assert releases["1.63.0"].flavour.rustc == "rustc"
    assert releases["1.63.0"].flavour.wasm32_std == "libstd-rust-dev-wasm32"
    assert releases["1.96.0"].flavour.cargo == "cargo-web"
    assert releases["1.96.0"].flavour.src == "rust-web-src"
    assert releases["1.96.0"].debian_version == "1.96.0+dfsg1-1~deb12u2"  # newest build of 1.96.0


def test_unknown_version_lists_available() -> None:
    releases = debian.releases_from_madison(debian.parse_madison(MADISON))
    error = debian.unknown_version_error("1.70.0", releases)
    assert isinstance(error, UsageError)
    line = error.one_line()
    assert "\n" not in line
    assert "1.70.0" in line
    assert "debian:1.63.0, debian:1.85.0, debian:1.96.0" in line


def test_parse_dpkg_query_keeps_installed_and_provides() -> None:
    text = (
        "gcc\t4:12.2.0-3\tii \tc-compiler, gcc-x86-64-linux-gnu (= 4:12.2.0-3)\n"
        "libc6-dev\t2.36-9+deb12u14\tii \tlibc-dev (= 2.36-9+deb12u14)\n"
        "oldthing\t1.0\trc \t\n"
    )
    installed = debian.parse_dpkg_query(text)
    assert installed.versions == {"gcc": "4:12.2.0-3", "libc6-dev": "2.36-9+deb12u14"}
    assert installed.satisfies(debian.Dep("c-compiler"))
    assert installed.satisfies(debian.Dep("libc-dev"))
    assert installed.satisfies(debian.Dep("libc-dev", ">=", "2.30"))
    assert not installed.satisfies(debian.Dep("c-compiler", ">=", "1"))  # unversioned provides
    assert not installed.satisfies(debian.Dep("oldthing"))


# ---------------------------------------------------------------------------------------------------------
# Dependency planning against a fake apt index


def para(
    name: str, version: str, depends: str = "", source: str | None = None, **extra: str
) -> dict[str, str]:
    data = {"Package": name, "Version": version, "Depends": depends, **extra}
    if source:
        data["Source"] = source
    return data


V96 = "1.96.0+dfsg1-1~deb12u2"
LLVM = "1:22.1.8-1~deb12u1"
INDEX: dict[str, list[dict[str, str]]] = {
    "rustc-web": [
        para("rustc-web", V96, f"libc6 (>= 2.34), libstd-rust-web-dev (= {V96}), gcc, libc-dev", "rustc-web"),
    ],
    "cargo-web": [
        para(
            "cargo-web",
            V96,
            f"libgit2-1.5 (>= 1.5.0), libcurl4, rustc-web (= {V96}), gcc | clang",
            "rustc-web",
        )
    ],
    "libstd-rust-web-dev": [
        para("libstd-rust-web-dev", V96, f"libstd-rust-web-1.96 (= {V96})", "rustc-web"),
        para("libstd-rust-web-dev", "1.85.0+dfsg3-1~deb12u3", "libstd-rust-web-1.85", "rustc-web"),
    ],
    "libstd-rust-web-1.96": [
        para("libstd-rust-web-1.96", V96, "libc6, libllvm22, libstdc++6 (>= 11)", "rustc-web")
    ],
    "libllvm22": [para("libllvm22", LLVM, "libc6, libz3-4", "llvm-toolchain-22")],
    "libz3-4": [para("libz3-4", "4.8.12-3.1", "libc6")],
    "lld-22": [para("lld-22", LLVM, f"libllvm22 (= {LLVM}), libc6", "llvm-toolchain-22")],
    "libgit2-1.5": [
        para("libgit2-1.5", "1.5.1+ds-1+deb12u1", "libc6"),
        para("libgit2-1.5", "1.5.1+ds-1+deb12u2", "libc6"),
    ],
    "libcurl4": [para("libcurl4", "7.88.1-10+deb12u15", "libc6")],
}
SYSTEM = debian.Installed(
    versions={
        "libc6": "2.36-9",
        "gcc": "4:12.2.0-3",
        "libstdc++6": "12.2.0-14",
        "libcurl4": "7.88.1-10+deb12u14",
    },
    provides={"libc-dev": ("2.36-9",)},
)


def lookup(names: Sequence[str]) -> Mapping[str, Sequence[Mapping[str, str]]]:
    return {n: INDEX.get(n, []) for n in names}


def test_plan_closes_over_depends_and_skips_installed() -> None:
    plan = debian.plan_packages(
        [("rustc-web", V96), ("cargo-web", V96), ("lld-22", LLVM)],
        lookup=lookup,
        installed=SYSTEM,
        own_sources=frozenset({"rustc-web"}),
    )
    assert plan.packages == {
        "rustc-web": V96,
        "cargo-web": V96,
        "lld-22": LLVM,
        "libstd-rust-web-dev": V96,  # the exact version, not the other one in the index
        "libgit2-1.5": "1.5.1+ds-1+deb12u2",  # newest
        "libllvm22": LLVM,
        "libstd-rust-web-1.96": V96,
        "libz3-4": "4.8.12-3.1",
    }
    assert "libcurl4" not in plan.packages  # installed on the system
    assert plan.reasons["libz3-4"] == "libllvm22"
    assert plan.missing_system == ()


def test_plan_unpacks_own_source_packages_even_when_installed() -> None:
    installed = debian.Installed(
        versions={**SYSTEM.versions, "libstd-rust-web-dev": V96}, provides=SYSTEM.provides
    )
    plan = debian.plan_packages(
        [("rustc-web", V96)], lookup=lookup, installed=installed, own_sources=frozenset({"rustc-web"})
    )
    assert "libstd-rust-web-dev" in plan.packages  # rustc looks for its std next to itself


def test_plan_reports_missing_system_packages() -> None:
    bare = debian.Installed(versions={"libc6": "2.36-9", "libstdc++6": "12"})
    plan = debian.plan_packages(
        [("cargo-web", V96), ("rustc-web", V96)],
        lookup=lookup,
        installed=bare,
        own_sources=frozenset({"rustc-web"}),
    )
    assert "gcc | clang" in plan.missing_system
    assert "libc-dev" in plan.missing_system


def test_plan_fails_on_unsatisfiable_dependency() -> None:
    index = {"x": [para("x", "1", "nowhere-to-be-found (>= 2)")]}
    with pytest.raises(ProvisionError, match="nowhere-to-be-found"):
        debian.plan_packages(
            [("x", "1")],
            lookup=lambda names: {n: index.get(n, []) for n in names},
            installed=SYSTEM,
            own_sources=frozenset(),
        )


def test_plan_fails_on_unknown_root() -> None:
    with pytest.raises(ProvisionError, match=r"rustc-web=9\.9 is not in the apt index"):
        debian.plan_packages([("rustc-web", "9.9")], lookup=lookup, installed=SYSTEM, own_sources=frozenset())


def test_llvm_major_and_cargo_choice() -> None:
    assert debian.llvm_major(INDEX["libstd-rust-web-1.96"]) == 22
    assert debian.llvm_major([para("x", "1", "libc6")]) is None
    old = debian.FLAVOURS[0]
    cargos = [para("cargo", "0.66.0+ds1-1", "rustc (>= 1.24)"), para("cargo", "0.70.0-1", "rustc (>= 1.68)")]
    picked = debian.pick_cargo(cargos, old, "1.63.0+dfsg1-2")
    assert picked is not None
    assert picked["Version"] == "0.66.0+ds1-1"
    web = debian.FLAVOURS[1]
    assert debian.pick_cargo(INDEX["cargo-web"], web, "1.85.0+dfsg3-1~deb12u3") is None


def test_deb_filename_and_cache_check(tmp_path: Path) -> None:
    data = b"not really a deb"
    entry = para(
        "lld-22",
        LLVM,
        Filename="pool/main/l/llvm-toolchain-22/lld-22_22.1.8-1~deb12u1_amd64.deb",
        Size=str(len(data)),
        SHA256=hashlib.sha256(data).hexdigest(),
    )
    assert debian.deb_filename(entry) == "lld-22_22.1.8-1~deb12u1_amd64.deb"
    assert debian.deb_filename(para("a", "1:2-3", Architecture="all")) == "a_2-3_all.deb"
    path = tmp_path / debian.deb_filename(entry)
    assert not debian._deb_ok(path, entry)
    path.write_bytes(data)
    assert debian._deb_ok(path, entry)
    path.write_bytes(b"not really a deb!")  # a corrupt cache file is not trusted
    assert not debian._deb_ok(path, entry)


def test_relativize_symlinks(tmp_path: Path) -> None:
    (tmp_path / "usr" / "lib" / "llvm-22" / "bin").mkdir(parents=True)
    (tmp_path / "usr" / "lib" / "llvm-22" / "bin" / "lld").write_text("")
    (tmp_path / "usr" / "bin").mkdir()
    inside = tmp_path / "usr" / "bin" / "lld-22"
    inside.symlink_to("/usr/lib/llvm-22/bin/lld")
    outside = tmp_path / "usr" / "bin" / "editor"
    outside.symlink_to("/etc/alternatives/editor")
    assert debian.relativize_symlinks(tmp_path) == 1
    assert inside.readlink() == Path("../lib/llvm-22/bin/lld")
    assert outside.readlink() == Path("/etc/alternatives/editor")


def test_non_debian_machine_is_a_clear_provision_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("wasm_bisect.toolchains.debian_apt.shutil.which", lambda _name: None)
    with pytest.raises(ProvisionError) as info:
        toolchains.provider("debian").available()
    assert "needs a Debian machine" in info.value.one_line()
    assert "rustup: or path:" in info.value.one_line()


# ---------------------------------------------------------------------------------------------------------
# Tool output parsing


def test_parse_rustc_vv() -> None:
    info = toolchains.parse_rustc_vv(
        "rustc 1.96.0 (ac68faa20 2026-05-25) (built from a source tarball)\nbinary: rustc\n"
        "commit-hash: ac68faa20\nhost: x86_64-unknown-linux-gnu\nrelease: 1.96.0\nLLVM version: 22.1.8\n"
    )
    assert info.release == "1.96.0"
    assert info.host == "x86_64-unknown-linux-gnu"
    assert info.llvm_version == "22.1.8"
    assert info.verbose_version.startswith("rustc 1.96.0 (")
    with pytest.raises(ProvisionError, match="unexpected"):
        toolchains.parse_rustc_vv("bash: rustc: command not found")


def test_parse_cargo_version() -> None:
    assert toolchains.parse_cargo_version("cargo 1.65.0\n") == ("cargo 1.65.0", "1.65.0")
    line = "cargo 1.96.0 (30a34c682 2026-05-25) (built from a source tarball)"
    assert toolchains.parse_cargo_version(line) == (line, "1.96.0")
    with pytest.raises(ProvisionError):
        toolchains.parse_cargo_version("")


def test_parse_rustup_toolchain_list() -> None:
    text = (
        "stable-x86_64-unknown-linux-gnu (active, default)\nnightly-2024-08-01-x86_64-unknown-linux-gnu\n"
        "1.95.0-x86_64-unknown-linux-gnu\n"
    )
    assert toolchains.parse_rustup_toolchain_list(text) == ["stable", "nightly-2024-08-01", "1.95.0"]
    assert toolchains.parse_rustup_toolchain_list("no installed toolchains\n") == []


def test_reference_types_default_boundary() -> None:
    assert not compat.reference_types_by_default("1.81.0")
    assert compat.reference_types_by_default("1.82.0")
    assert compat.reference_types_by_default("1.83.0-nightly")
    with pytest.raises(UsageError):
        versions.rust_release("stable")


def test_suggest_debian() -> None:
    assert toolchains.suggest_debian("1.96.0", ["1.63.0", "1.96.0"]) == "use debian:1.96.0 instead"
    assert "debian:1.63.0, debian:1.96.0" in toolchains.suggest_debian("1.82.0", ["1.63.0", "1.96.0"])
    assert "toolchain available" in toolchains.suggest_debian("stable", [])


# ---------------------------------------------------------------------------------------------------------
# The Toolchain value


def make_toolchain(
    root: Path, *, provider: str = "debian", version: str = "1.96.0", **kw: object
) -> Toolchain:
    spec = ToolchainSpec(provider=provider, version=version if provider != "path" else str(root))
    values: dict[str, object] = {
        "spec": spec,
        "version": version,
        "verbose_version": f"rustc {version}",
        "host": "x86_64-unknown-linux-gnu",
        "sysroot": root / "usr",
        "bin_dir": root / "usr" / "bin",
        "cargo_version": version,
        "wasm32_std": True,
        "env": {"LD_LIBRARY_PATH": str(root / "usr/lib/x86_64-linux-gnu")} if provider == "debian" else {},
    }
    values.update(kw)
    return Toolchain(**values)  # type: ignore[arg-type]


def test_environ_drops_the_users_build_settings(tmp_path: Path) -> None:
    toolchain = make_toolchain(tmp_path)
    base = {
        "PATH": "/usr/bin:/bin",
        "HOME": "/root",
        "RUSTFLAGS": "-Ctarget-feature=+reference-types",
        "CARGO_ENCODED_RUSTFLAGS": "x",
        "CARGO_BUILD_TARGET": "wasm32-unknown-unknown",
        "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS": "-Cfoo",
        "CARGO_TARGET_DIR": "/tmp/t",
        "CARGO_PROFILE_RELEASE_LTO": "true",
        "RUSTUP_TOOLCHAIN": "nightly",
        "RUSTC_WRAPPER": "sccache",
        "RUSTC_BOOTSTRAP": "1",
        "LD_LIBRARY_PATH": "/opt/evil",
        "CARGO_HOME": "/root/.cargo",
    }
    env = toolchain.environ(base)
    for dropped in (
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_PROFILE_RELEASE_LTO",
        "RUSTUP_TOOLCHAIN",
        "RUSTC_WRAPPER",
        "RUSTC_BOOTSTRAP",
    ):
        assert dropped not in env, dropped
    assert env["PATH"].split(os.pathsep)[0] == str(tmp_path / "usr" / "bin")
    assert env["PATH"].endswith("/usr/bin:/bin")
    assert env["RUSTC"] == str(tmp_path / "usr" / "bin" / "rustc")
    assert env["CARGO"] == str(tmp_path / "usr" / "bin" / "cargo")
    assert env["LD_LIBRARY_PATH"] == str(tmp_path / "usr/lib/x86_64-linux-gnu")
    assert env["HOME"] == "/root"
    assert env["CARGO_HOME"] == "/root/.cargo"
    assert base["RUSTFLAGS"]  # the caller's mapping is untouched


def test_environ_sets_rustup_toolchain_for_rustup_ones(tmp_path: Path) -> None:
    toolchain = make_toolchain(
        tmp_path, provider="rustup", version="1.95.0", env={"RUSTUP_TOOLCHAIN": "1.95.0"}
    )
    env = toolchain.environ({"PATH": "/bin", "RUSTUP_TOOLCHAIN": "nightly", "LD_LIBRARY_PATH": "/x"})
    assert env["RUSTUP_TOOLCHAIN"] == "1.95.0"
    assert "LD_LIBRARY_PATH" not in env


def test_json_round_trip(tmp_path: Path) -> None:
    toolchain = make_toolchain(tmp_path, mvp_sysroot=tmp_path / "mvp-sysroot", llvm_version="22.1.8")
    data = json.loads(json.dumps(toolchain.to_json()))
    assert Toolchain.from_json(data) == toolchain
    path_tc = make_toolchain(tmp_path, provider="path", version="1.63.0")
    assert Toolchain.from_json(path_tc.to_json()) == path_tc


def test_reference_types_off_flags(tmp_path: Path) -> None:
    old = make_toolchain(tmp_path, version="1.63.0")
    assert old.reference_types_off_rustflags() == ["-Ctarget-feature=-reference-types"]
    new = make_toolchain(tmp_path, mvp_sysroot=tmp_path / "mvp")
    assert new.reference_types_off_rustflags() == [f"--sysroot={tmp_path / 'mvp'}", "-Ctarget-cpu=mvp"]
    with pytest.raises(ProvisionError, match="no mvp std"):
        make_toolchain(tmp_path).reference_types_off_rustflags()


def test_require_wasm32_names_the_problem_and_the_way_out(tmp_path: Path) -> None:
    toolchain = make_toolchain(
        tmp_path,
        provider="rustup",
        version="1.95.0",
        wasm32_std=False,
        note="static.rust-lang.org is unreachable",
    )
    with pytest.raises(ProvisionError) as info:
        toolchain.require_wasm32()
    line = info.value.one_line()
    assert "rustup:1.95.0" in line
    assert "no wasm32-unknown-unknown std" in line
    assert "unreachable" in line
    assert "debian:" in line
    make_toolchain(tmp_path).require_wasm32()  # has one: no error


# ---------------------------------------------------------------------------------------------------------
# The debian cache: manifests, corruption, fast path, unknown versions


def fake_prefix(prefix: Path, *, version: str = "1.96.0", mvp: bool = True, spec: str | None = None
                ) -> dict[str, object]:
    """Files a provisioned prefix has, without any real binary in them."""
    for rel in ("usr/bin/rustc", "usr/bin/cargo"):
        (prefix / rel).parent.mkdir(parents=True, exist_ok=True)
        (prefix / rel).write_text("")
    std = prefix / "usr/lib/rustlib/wasm32-unknown-unknown/lib"
    std.mkdir(parents=True)
    (std / "libstd-0123.rlib").write_text("")
    if mvp:
        out = toolchains_base.make_mvp_sysroot(
            prefix / "mvp-sysroot",
            prefix / "usr/lib/rustlib/x86_64-unknown-linux-gnu",
            "x86_64-unknown-linux-gnu",
        )
        (out / "libstd-4567.rlib").write_text("")
    manifest: dict[str, object] = {
        "schema": toolchains_base.MANIFEST_SCHEMA,
        "spec": spec or f"debian:{version}",
        "version": version,
        "verbose_version": f"rustc {version}",
        "host": "x86_64-unknown-linux-gnu",
        "cargo_version": version,
        "wasm32_std": True,
        "paths": {
            "sysroot": "usr",
            "bin_dir": "usr/bin",
            "lib_dirs": ["usr/lib/x86_64-linux-gnu", "lib/x86_64-linux-gnu"],
            "mvp_sysroot": "mvp-sysroot" if mvp else None,
        },
    }
    (prefix / toolchains.MANIFEST).write_text(json.dumps(manifest))
    return manifest


class RefusingApt(debian.Apt):
    """An Apt that fails the test if anything asks apt (the cache must answer alone)."""

    def madison(self, names: Sequence[str]) -> list[debian.MadisonRow]:
        raise AssertionError("apt-cache madison was called")


class MadisonOnlyApt(debian.Apt):
    def madison(self, names: Sequence[str]) -> list[debian.MadisonRow]:
        return debian.parse_madison(MADISON)

    def show(self, names: Sequence[str]) -> dict[str, list[dict[str, str]]]:
        return {}

    def installed(self) -> debian.Installed:
        return debian.Installed(versions={"libc6": "2.36-9+deb12u14"})


def test_installed_manifest_is_read_with_relative_paths(home: Path) -> None:
    prefix = paths.toolchains_dir() / "debian-1.96.0"
    fake_prefix(prefix)
    (found,) = toolchains.provider("debian").installed()
    assert found.spec == ToolchainSpec(provider="debian", version="1.96.0")
    assert found.bin_dir == prefix / "usr" / "bin"
    assert found.mvp_sysroot == prefix / "mvp-sysroot"
    lib_dirs = [prefix / "usr/lib/x86_64-linux-gnu", prefix / "lib/x86_64-linux-gnu"]
    assert found.env == {"LD_LIBRARY_PATH": os.pathsep.join(map(str, lib_dirs))}
    assert (prefix / "mvp-sysroot/lib/rustlib/x86_64-unknown-linux-gnu").readlink() == Path(
        "../../../usr/lib/rustlib/x86_64-unknown-linux-gnu"
    )
    # A renamed cache still works: every stored path is relative to the prefix.
    moved = home / "elsewhere" / "debian-1.96.0"
    moved.parent.mkdir()
    prefix.rename(moved)
    again = toolchains.read_manifest(moved)
    assert again is not None
    assert again.sysroot == moved / "usr"


@pytest.mark.parametrize(
    "damage",
    ["garbage", "empty", "list", "wrong-schema", "no-rustc", "no-std", "no-mvp-std", "bad-spec"],
)
def test_corrupt_or_stale_manifest_means_absent(home: Path, damage: str) -> None:
    prefix = paths.toolchains_dir() / "debian-1.96.0"
    manifest = fake_prefix(prefix)
    path = prefix / toolchains.MANIFEST
    if damage == "garbage":
        path.write_text("{not json")
    elif damage == "empty":
        path.write_text("")
    elif damage == "list":
        path.write_text("[]")
    elif damage == "wrong-schema":
        path.write_text(json.dumps({**manifest, "schema": 999}))
    elif damage == "no-rustc":
        (prefix / "usr/bin/rustc").unlink()
    elif damage == "no-std":
        (prefix / "usr/lib/rustlib/wasm32-unknown-unknown/lib/libstd-0123.rlib").unlink()
    elif damage == "no-mvp-std":
        (prefix / "mvp-sysroot/lib/rustlib/wasm32-unknown-unknown/lib/libstd-4567.rlib").unlink()
    elif damage == "bad-spec":
        path.write_text(json.dumps({**manifest, "spec": "nonsense:1"}))
    assert toolchains.read_manifest(prefix) is None
    assert toolchains.provider("debian").installed() == []
    with pytest.raises(ProvisionError, match="not provisioned"):
        toolchains.resolve(ToolchainSpec.parse("debian:1.96.0"), provision=False)


def test_provision_returns_the_cached_prefix_without_asking_apt(home: Path) -> None:
    fake_prefix(paths.toolchains_dir() / "debian-1.96.0")
    found = toolchains.DebianProvider(RefusingApt()).provision("1.96.0")
    assert found.version == "1.96.0"
    assert toolchains.resolve(ToolchainSpec.parse("debian:1.96.0"), provision=False) == found


def test_unknown_debian_version_is_a_usage_error_listing_versions(home: Path) -> None:
    with pytest.raises(UsageError) as info:
        toolchains.DebianProvider(MadisonOnlyApt()).provision("1.70.0")
    line = info.value.one_line()
    assert "1.70.0" in line
    assert "debian:1.63.0, debian:1.85.0, debian:1.96.0" in line
    assert not (paths.toolchains_dir() / "debian-1.70.0").exists()


def test_debian_available_is_discovered_from_madison() -> None:
    assert toolchains.DebianProvider(MadisonOnlyApt()).available() == ["1.63.0", "1.85.0", "1.96.0"]


def test_remove_deletes_prefix_and_leftover_staging(home: Path) -> None:
    prefix = paths.toolchains_dir() / "debian-1.96.0"
    fake_prefix(prefix)
    (paths.toolchains_dir() / ".staging-debian-1.96.0-abc").mkdir()
    assert toolchains.remove(ToolchainSpec.parse("debian:1.96.0"))
    assert not prefix.exists()
    assert list(paths.toolchains_dir().iterdir()) == []
    assert not toolchains.remove(ToolchainSpec.parse("debian:1.96.0"))
    assert not toolchains.remove(ToolchainSpec.parse("rustup:stable"))  # never installed: nothing to remove


def test_build_std_without_source_is_a_provision_error(tmp_path: Path) -> None:
    with pytest.raises(ProvisionError, match="no Rust source"):
        toolchains_base.build_wasm32_std(make_toolchain(tmp_path), tmp_path / "w", tmp_path / "out", rustflags=())


def test_wire_rust_lld_is_relative(tmp_path: Path) -> None:
    lld = tmp_path / "usr/lib/llvm-22/bin/lld"
    lld.parent.mkdir(parents=True)
    lld.write_text("")
    link = toolchains_debian.wire_rust_lld(tmp_path, "x86_64-unknown-linux-gnu", "22")
    assert link == tmp_path / "usr/lib/rustlib/x86_64-unknown-linux-gnu/bin/rust-lld"
    assert link.readlink() == Path("../../../llvm-22/bin/lld")
    assert link.resolve() == lld.resolve()
    with pytest.raises(ProvisionError, match="no lld"):
        toolchains_debian.wire_rust_lld(tmp_path, "x86_64-unknown-linux-gnu", "19")


# ---------------------------------------------------------------------------------------------------------
# Providers: spec errors, path prefixes, rustup offline


def test_unknown_provider() -> None:
    with pytest.raises(UsageError, match="unknown toolchain provider"):
        toolchains.provider("conda")


def test_path_prefix_without_rustc_is_a_usage_error(home: Path, tmp_path: Path) -> None:
    with pytest.raises(UsageError) as info:
        toolchains.resolve(ToolchainSpec.parse(f"path:{tmp_path}"))
    assert f"path:{tmp_path} has no bin/rustc" in info.value.one_line()
    assert toolchains.provider("path").installed() == []


def test_path_registry_survives_corruption(home: Path) -> None:
    registry = toolchains.PathProvider.registry_path()
    registry.parent.mkdir(parents=True)
    registry.write_text("{oops")
    assert toolchains.provider("path").installed() == []
    registry.write_text(json.dumps({"toolchains": [{"spec": "path:/nowhere"}, 5]}))
    assert toolchains.provider("path").installed() == []


def test_rustup_offline_install_is_a_skip_with_a_hint(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("wasm_bisect.util.processes.which", lambda program, env=None: f"/usr/bin/{program}")
    monkeypatch.setattr(toolchains_rustup, "_network_reachable", lambda url, timeout=5.0: False)
    for version in ("1.63.0", "1.96.0"):
        fake_prefix(paths.toolchains_dir() / f"debian-{version}", version=version)
    with pytest.raises(Untestable) as info:  # a cell that cannot be had is skipped, never blamed
        toolchains.resolve(ToolchainSpec.parse("rustup:1.82.0"))
    line = info.value.one_line()
    assert "rustup:1.82.0 cannot be installed from https://static.rust-lang.org: the server is unreachable" in line
    assert "debian:1.63.0, debian:1.96.0" in line
    assert not toolchains.RustupProvider.prefix("1.82.0").exists()


def test_rustup_install_failures_are_explained() -> None:
    explain = toolchains_rustup.explain_install_failure
    assert explain("info: syncing\nerror: no release found for 'nightly-2024-02-03'\n  0: backtrace").startswith(
        "the server has no such release")
    assert explain("error: component 'rust-std' for target 'wasm32-unknown-unknown' is unavailable for download "
                   "for channel 'nightly-2024-02-02'").startswith("no wasm32-unknown-unknown std")
    assert explain("error: could not download file from 'http://x/dist/a.tar.xz'").startswith("the download failed")
    assert explain("error: something else") == "error: something else"


def test_rustup_private_env_keeps_the_user_homes_out(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RUSTUP_HOME", "/home/u/.rustup")
    monkeypatch.setenv("CARGO_HOME", "/home/u/.cargo")
    monkeypatch.setenv("RUSTUP_TOOLCHAIN", "nightly")
    monkeypatch.setenv("RUSTUP_DIST_SERVER", "http://mirror.example")
    monkeypatch.setenv("RUSTUP_UPDATE_ROOT", "http://mirror.example/rustup")
    env = toolchains.RustupProvider.private_env(tmp_path)
    assert env["RUSTUP_HOME"] == str(tmp_path) and env["CARGO_HOME"] == str(tmp_path / "cargo-home")
    assert "RUSTUP_TOOLCHAIN" not in env
    assert env["RUSTUP_DIST_SERVER"] == "http://mirror.example"  # honoured, as rustup reads it
    assert env["RUSTUP_UPDATE_ROOT"] == "http://mirror.example/rustup"


def test_rustup_installed_reads_manifests_and_remove_deletes(home: Path) -> None:
    prefix = toolchains.RustupProvider.prefix("nightly-2024-02-01")
    assert prefix.name == "rustup-nightly-2024-02-01"
    fake_prefix(prefix, spec="rustup:nightly-2024-02-01", version="1.78.0")
    assert [str(t.spec) for t in toolchains.RustupProvider().installed()] == ["rustup:nightly-2024-02-01"]
    assert prefix in toolchains.managed_prefixes()
    assert toolchains.remove(ToolchainSpec.parse("rustup:nightly-2024-02-01"))
    assert not prefix.exists()


class IndexApt(debian.Apt):
    """apt answering from a fixed index and installed set (no process)."""

    def __init__(self, index: Mapping[str, list[dict[str, str]]], installed: debian.Installed) -> None:
        super().__init__()
        self.index = index
        self.system = installed

    def madison(self, names: Sequence[str]) -> list[debian.MadisonRow]:
        return debian.parse_madison(MADISON)

    def show(self, names: Sequence[str]) -> dict[str, list[dict[str, str]]]:
        return {n: list(self.index[n]) for n in names if n in self.index}

    def installed(self) -> debian.Installed:
        return self.system


V63 = "1.63.0+dfsg1-2"
OLD_INDEX = {
    "rustc": [para("rustc", V63, f"libstd-rust-dev (= {V63}), gcc", "rustc")],
    "libstd-rust-dev": [para("libstd-rust-dev", V63, f"libstd-rust-1.63 (= {V63})", "rustc")],
    "libstd-rust-1.63": [para("libstd-rust-1.63", V63, "libc6, libllvm14", "rustc")],
    "libstd-rust-dev-wasm32": [para("libstd-rust-dev-wasm32", V63, "", "rustc")],
    "rust-src": [para("rust-src", V63, "", "rustc")],
    "cargo": [para("cargo", "0.66.0+ds1-1", "rustc (>= 1.24), libgit2-1.5")],
    "libgit2-1.5": INDEX["libgit2-1.5"],
    "lld-14": [para("lld-14", "1:14.0.6-12", "libllvm14 (= 1:14.0.6-12)", "llvm-toolchain-14")],
}


def test_plan_for_the_old_flavour_uses_the_prebuilt_wasm32_std() -> None:
    system = debian.Installed(
        versions={**SYSTEM.versions, "libllvm14": "1:14.0.6-12"}, provides=SYSTEM.provides
    )
    provider = toolchains.DebianProvider(IndexApt(OLD_INDEX, system))
    plan, paragraphs = provider.plan(provider.releases()["1.63.0"])
    assert list(plan.packages) == [
        "rustc",
        "cargo",
        "libstd-rust-dev-wasm32",
        "lld-14",
        "libstd-rust-dev",
        "libgit2-1.5",
        "libstd-rust-1.63",
    ]  # no rust-src (nothing to build before 1.82), no libllvm14 (installed)
    assert paragraphs["cargo"]["Version"] == "0.66.0+ds1-1"


def test_plan_for_the_web_flavour_takes_source_and_lld_of_its_llvm() -> None:
    index = {**INDEX, "rust-web-src": [para("rust-web-src", V96, "", "rustc-web")]}
    provider = toolchains.DebianProvider(IndexApt(index, SYSTEM))
    plan, _ = provider.plan(provider.releases()["1.96.0"])
    assert {"rustc-web", "cargo-web", "rust-web-src", "lld-22", "libllvm22"} <= set(plan.packages)
    assert plan.reasons["lld-22"] == "root"


def test_missing_system_packages_fail_before_anything_is_written(home: Path) -> None:
    bare = debian.Installed(versions={"libc6": "2.36-9", "libstdc++6": "12"})
    index = {**INDEX, "rust-web-src": [para("rust-web-src", V96, "", "rustc-web")]}
    with pytest.raises(ProvisionError) as info:
        toolchains.DebianProvider(IndexApt(index, bare)).provision("1.96.0")
    assert "apt-get install gcc" in info.value.one_line()
    assert not (paths.toolchains_dir() / "debian-1.96.0").exists()


def test_test_sysroot_only_when_the_std_lacks_libtest(tmp_path: Path) -> None:
    toolchain = make_toolchain(tmp_path, mvp_sysroot=tmp_path / "mvp")
    std = tmp_path / "usr" / "lib" / "rustlib" / "wasm32-unknown-unknown" / "lib"
    std.mkdir(parents=True)
    (std / "libstd-1.rlib").write_text("")
    (std / "libtest-1.rlib").write_text("")
    assert toolchains.test_sysroot(toolchain) is None  # its own std has libtest
    assert toolchains.test_sysroot(make_toolchain(tmp_path), mvp=True) is None  # no mvp std: nothing to pair
    (std / "libtest-1.rlib").unlink()
    # A std without libtest gets a sysroot of its own, built from the toolchain's source (absent here).
    with pytest.raises(ProvisionError, match="no Rust source"):
        toolchains.test_sysroot(toolchain)
    assert not list((paths.toolchains_dir() / "test-sysroots").glob("debian-1.96.0-*-std"))  # nothing half-made


# ---------------------------------------------------------------------------------------------------------
# The reference-types-off (mvp) std: built the first time an `off` probe needs it, or at add when asked


def fake_mvp_build(calls: list[Path]) -> Callable[..., int]:
    def build(toolchain: Toolchain, work: Path, out_lib: Path, *, rustflags: Sequence[str], **_: object) -> int:
        assert list(rustflags) == list(toolchains_base.MVP_RUSTFLAGS)
        calls.append(out_lib)
        out_lib.mkdir(parents=True, exist_ok=True)
        (out_lib / "libstd-mvp.rlib").write_text("")
        return 1

    return build


def test_mvp_std_is_built_on_first_use_into_the_prefix(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    prefix = paths.toolchains_dir() / "debian-1.96.0"
    fake_prefix(prefix, mvp=False)
    calls: list[Path] = []
    monkeypatch.setattr(toolchains_base, "build_wasm32_std", fake_mvp_build(calls))
    monkeypatch.setattr(toolchains_base, "check_features",
                        lambda t, work, **_: toolchains_base.FeatureCheck(default=["+reference-types"], mvp=[]))
    plain = toolchains.resolve(ToolchainSpec.parse("debian:1.96.0"), provision=False)
    assert plain.mvp_sysroot is None  # provisioned without it
    ready = toolchains.with_mvp_std(plain)
    assert ready.mvp_sysroot == prefix / "mvp-sysroot" and len(calls) == 1
    assert toolchains.with_mvp_std(ready) is ready  # once: the manifest now names it
    again = toolchains.read_manifest(prefix)
    assert again is not None and again.mvp_sysroot == prefix / "mvp-sysroot"
    data = toolchains.read_manifest_data(prefix)
    assert data["target_features"]["mvp"] == [] and "mvp_std_build" in data["timings"]
    assert not list(prefix.glob(".staging-*")) and not list(prefix.glob(".mvp-work-*"))
    # A second caller that still holds the old Toolchain finds it built instead of building again.
    assert toolchains.with_mvp_std(plain).mvp_sysroot == prefix / "mvp-sysroot" and len(calls) == 1


def test_mvp_std_failure_leaves_the_prefix_as_it_was(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    prefix = paths.toolchains_dir() / "debian-1.96.0"
    fake_prefix(prefix, mvp=False)
    before = (prefix / toolchains.MANIFEST).read_text()

    def broken(*_: object, **__: object) -> int:
        raise ProvisionError("building the wasm32-unknown-unknown std failed")

    monkeypatch.setattr(toolchains_base, "build_wasm32_std", broken)
    plain = toolchains.resolve(ToolchainSpec.parse("debian:1.96.0"), provision=False)
    with pytest.raises(ProvisionError):
        toolchains.with_mvp_std(plain)
    assert (prefix / toolchains.MANIFEST).read_text() == before
    assert not (prefix / "mvp-sysroot").exists() and not list(prefix.glob(".staging-*"))


def test_no_mvp_std_needed_before_182_or_possible_for_a_path_prefix(home: Path) -> None:
    old = paths.toolchains_dir() / "debian-1.63.0"
    fake_prefix(old, version="1.63.0", mvp=False)
    found = toolchains.resolve(ToolchainSpec.parse("debian:1.63.0"), provision=False)
    assert toolchains.with_mvp_std(found) is found
    path_tc = make_toolchain(home, provider="path")
    assert toolchains.with_mvp_std(path_tc) is path_tc


def test_plan_takes_the_lld_whose_llvm_runs_here_not_the_newest() -> None:
    """sid's lld-22 needs a libllvm22 built for glibc 2.38: on glibc 2.36 the bookworm build of both is taken
    (a fresh machine failed with 'cannot satisfy libllvm22 (= 1:22.1.8-3)' once sid moved on)."""
    sid = "1:22.1.8-3"
    index = {
        **INDEX,
        "rust-web-src": [para("rust-web-src", V96, "", "rustc-web")],
        "libllvm22": [*INDEX["libllvm22"], para("libllvm22", sid, "libc6 (>= 2.38)", "llvm-toolchain-22")],
        "lld-22": [*INDEX["lld-22"], para("lld-22", sid, f"libllvm22 (= {sid}), libc6 (>= 2.34)", "llvm-toolchain-22")],
    }
    provider = toolchains.DebianProvider(IndexApt(index, SYSTEM))
    plan, _ = provider.plan(provider.releases()["1.96.0"])
    assert plan.packages["lld-22"] == LLVM and plan.packages["libllvm22"] == LLVM
