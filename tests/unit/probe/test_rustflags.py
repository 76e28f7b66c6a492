"""The project's own RUSTFLAGS: read like cargo reads them for wasm32, merged with the reference-types layer."""

from __future__ import annotations

import pytest

from wasm_bisect.domain.errors import UsageError
from wasm_bisect.probe import rustflags
from wasm_bisect.probe.rustflags import ConfigFile


def cfg(where: str, text: str) -> ConfigFile:
    return rustflags.parse_config(text, where)


@pytest.mark.parametrize(("expr", "holds"), [
    ('cfg(target_arch = "wasm32")', True),
    ('cfg(target_arch = "x86_64")', False),
    ('cfg(all(target_family = "wasm", target_os = "unknown"))', True),
    ('cfg(any(unix, windows))', False),
    ('cfg(not(unix))', True),
    ("cfg(wasm)", True),
    ('cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))', True),
])
def test_cfg_expressions_are_read_for_wasm32(expr: str, holds: bool) -> None:
    assert rustflags.cfg_matches(expr) is holds


def test_target_tables_beat_build_rustflags_and_join_in_precedence_order() -> None:
    root = cfg(".cargo/config.toml", '[build]\nrustflags = "--cfg a"\n'
               '[target.wasm32-unknown-unknown]\nrustflags = ["--cfg", "b"]\n')
    deeper = cfg("app/.cargo/config.toml", '[target.\'cfg(target_arch = "wasm32")\']\nrustflags = ["--cfg", "c"]\n'
                 '[target.x86_64-unknown-linux-gnu]\nrustflags = ["--cfg", "host"]\n')
    flags = rustflags.config_rustflags([root, deeper])
    assert [f for f, _ in flags] == ["--cfg", "b", "--cfg", "c"]
    assert flags[0][1] == ".cargo/config.toml target.wasm32-unknown-unknown.rustflags"
    assert flags[2][1] == "app/.cargo/config.toml target.'cfg(target_arch = \"wasm32\")'.rustflags"
    only_build = rustflags.config_rustflags([cfg("c", '[build]\nrustflags = "--cfg  x -Copt-level=1"\n')])
    assert [f for f, _ in only_build] == ["--cfg", "x", "-Copt-level=1"]
    assert rustflags.config_rustflags([]) == []


def test_unreadable_configs_are_bad_input() -> None:
    with pytest.raises(UsageError, match="is not valid TOML"):
        cfg(".cargo/config.toml", "[build\n")
    with pytest.raises(UsageError, match="must be a string or an array"):
        rustflags.config_rustflags([cfg("c", "[build]\nrustflags = 3\n")])
    with pytest.raises(UsageError, match="cannot read target"):
        rustflags.config_rustflags([cfg("c", "[target.'cfg(all(unix'.x]\nrustflags = []\n"
                                            "[target.'cfg(all(unix'.rustflags]\n")])


@pytest.mark.parametrize(("flags", "said"), [
    (["-Ctarget-feature=-reference-types"], False),
    (["-C", "target-feature=+simd128,+reference-types"], True),
    (["--codegen=target-feature=+reference-types", "-Ctarget-feature=-reference-types"], False),
    (["-Ctarget-cpu=mvp"], False),
    (["--cfg", "x", "-Copt-level=2"], None),
])
def test_what_the_flags_say_about_reference_types(flags: list[str], said: bool | None) -> None:
    found = rustflags.reference_types_of([(f, "config") for f in flags])
    assert (found[0] if found else None) is said


def test_merge_keeps_project_flags_first_and_reports_a_fight() -> None:
    project = [("--cfg", "cfg.toml build.rustflags"), ("x", "cfg.toml build.rustflags")]
    merged, conflict = rustflags.merge(project, ["-Ctarget-feature=+reference-types"],
                                       layer_origin="reference-types on", wanted=True, setting="on")
    assert conflict is None
    assert merged == [*project, ("-Ctarget-feature=+reference-types", "reference-types on")]
    fighting = [("-Ctarget-feature=-reference-types", "app/.cargo/config.toml build.rustflags")]
    _, conflict = rustflags.merge(fighting, ["-Ctarget-feature=+reference-types"], layer_origin="reference-types on",
                                  wanted=True, setting="on")
    assert conflict is not None and "turn reference-types off" in conflict and "fights reference-types on" in conflict
    assert "app/.cargo/config.toml" in conflict
    _, same = rustflags.merge([("-Ctarget-feature=+reference-types", "c")], [], layer_origin="x", wanted=True,
                              setting="default")
    assert same is None  # the project asks what the cell asks: no fight
    _, sysroot = rustflags.merge([("--sysroot=/mine", "c")], ["--sysroot=/mvp", "-Ctarget-cpu=mvp"],
                                 layer_origin="reference-types off", wanted=False, setting="off", owns_sysroot=True)
    assert sysroot is not None and "--sysroot=/mine" in sysroot
