"""Crate mode: reading the user's project (what is copied, what is refused) and turning it into a template."""

from __future__ import annotations

import hashlib
import shutil
import tomllib
from pathlib import Path

import pytest

from wasm_bisect.domain.errors import UsageError
from wasm_bisect.domain.model import BindgenSource, ToolchainSpec, Variant
from wasm_bisect.domain.options import CheckOverrides, Selection
from wasm_bisect.probe import crate, export, templates
from wasm_bisect.probe.reproducer import CheckKind

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "user-project"
NODE_CHECK = CheckOverrides(check="node tests/check.mjs")
PATCH = '\n[patch.crates-io]\nwasm-bindgen = { git = "https://x.invalid/wb" }\n'


def digest_tree(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def load(root: Path = FIXTURE, *, package: str | None = "app", features: tuple[str, ...] = ("repro",),
         overrides: CheckOverrides = NODE_CHECK) -> crate.CrateProject:
    return crate.load(root, selection=Selection(package=package, features=features), overrides=overrides)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    dest = tmp_path / "project"
    shutil.copytree(FIXTURE, dest)
    return dest


def test_fixture_loads_with_what_the_build_needs_and_nothing_else() -> None:
    before = digest_tree(FIXTURE)
    p = load()
    assert digest_tree(FIXTURE) == before  # loading only reads
    assert p.name == "crate:app" and p.package == "app" and p.package_dir == "app" and p.artifact == "app"
    assert {"Cargo.toml", "Cargo.lock", ".cargo/config.toml", "app/Cargo.toml", "app/src/lib.rs",
            "app/tests/node.rs", "core/Cargo.toml", "core/src/lib.rs", "tests/check.mjs", "tests/data/case.json",
            "tests/support/values.mjs"} == set(p.files)  # the check at the root, its helper and data too
    assert p.project_rustflags == (("--cfg", ".cargo/config.toml build.rustflags"),
                                   ("sum_in_core", ".cargo/config.toml build.rustflags"))
    assert p.check.kind is CheckKind.COMMAND and p.check.argv == ("node", "tests/check.mjs")
    assert p.selection.cargo_args() == ("--features", "repro")
    assert p.param_values({}) == ()
    args = p.command_args()
    assert args[:4] == ("--crate", str(FIXTURE), "--package", "app")
    assert "--features" in args and args[args.index("--check"):][:2] == ("--check", "node tests/check.mjs")


def test_hashes_follow_the_files_and_the_selection(project: Path) -> None:
    a = load(project)
    assert load(project).content_hash == a.content_hash
    assert load(project, features=()).content_hash != a.content_hash
    assert load(project, overrides=CheckOverrides(check="node tests/check.mjs", timeout=5)).check_hash != a.check_hash
    (project / "tests" / "check.mjs").write_text("process.exit(0)\n")
    changed = load(project)
    assert changed.check_hash != a.check_hash  # the check's own file is part of the check
    (project / "core" / "src" / "lib.rs").write_text("pub fn sum(_: impl IntoIterator<Item = u32>) -> u64 { 0 }\n")
    assert load(project).content_hash != a.content_hash


def test_build_outputs_vcs_and_toolchain_files_are_not_copied(project: Path) -> None:
    for junk in ("target/release/x", "app/pkg/app.js", "app/node_modules/m/index.js", ".git/HEAD",
                 "core/target/y", "app/src/.git/z", "app/.vscode/settings.json", "app/wasm-bisect.toml",
                 "app/results/store.sqlite3", "app/results/store.sqlite3-wal"):
        (project / junk).parent.mkdir(parents=True, exist_ok=True)
        (project / junk).write_text("junk")
    (project / "app" / "rust-toolchain.toml").write_text('[toolchain]\nchannel = "nightly"\n')
    (project / "notes").mkdir()
    (project / "notes" / "todo.md").write_text("not part of any crate, but a check may read it\n")
    p = load(project)
    assert not [f for f in p.files if any(part in f.split("/") for part in ("target", "pkg", "node_modules", ".git",
                                                                             ".vscode"))]
    assert not [f for f in p.files if f.endswith((".sqlite3", ".sqlite3-wal", "wasm-bisect.toml"))]
    assert "notes/todo.md" in p.files  # everything under the --crate directory a check may read is copied
    assert p.left_out == ("app/rust-toolchain.toml",)
    assert p.node_modules == ("app/node_modules",)  # linked, not copied


@pytest.mark.parametrize(("change", "needle"), [
    (lambda d: (d / "Cargo.toml").unlink(), "is not a Cargo project"),
    (lambda d: None, "package 'nope' is not in the workspace"),
    (lambda d: (d / "app" / "Cargo.toml").write_text((d / "app" / "Cargo.toml").read_text().replace(
        'path = "../core"', 'path = "../../elsewhere/core"')), "'../../elsewhere/core' is outside"),
    (lambda d: (d / "app" / "Cargo.toml").write_text((d / "app" / "Cargo.toml").read_text().replace(
        'crate-type = ["cdylib", "rlib"]', 'crate-type = ["rlib"]')), "is not a cdylib"),
    (lambda d: (d / "Cargo.toml").write_text((d / "Cargo.toml").read_text() + PATCH), "replaces wasm-bindgen"),
    (lambda d: (d / "Cargo.lock").write_text("[[package]\n"), "is not a valid lockfile"),
    (lambda d: (d / "app" / "src" / "data.rs").symlink_to("/etc/hostname"), "is a symlink to outside"),
    (lambda d: (d / ".cargo" / "config.toml").write_text("[build\n"), "is not valid TOML"),
])
def test_bad_projects_are_refused_naming_the_problem(project: Path, change: object, needle: str) -> None:
    change(project)  # type: ignore[operator]
    package = "nope" if "nope" in needle else "app"
    with pytest.raises(UsageError) as info:
        load(project, package=package)
    assert needle in info.value.one_line()


def refused(project: Path, **kw: object) -> str:
    with pytest.raises(UsageError) as info:
        load(project, **kw)  # type: ignore[arg-type]
    return info.value.one_line()


def test_features_packages_and_checks_are_checked(project: Path) -> None:
    line = refused(project, features=("nope",))
    assert "package app has no feature 'nope'" in line and "its features: repro" in line
    line = refused(project, features=("app-core/x",))  # a path dependency's features are known: checked
    assert "dependency app-core has no feature 'x'" in line and "its features: none" in line
    with pytest.raises(UsageError, match="has no dependency 'nope'"):
        load(project, features=("nope/x",))
    with pytest.raises(UsageError, match="has 2 packages: choose one with --package"):
        load(project, package=None)
    with pytest.raises(UsageError, match="needs a check"):
        load(project, overrides=CheckOverrides())
    with pytest.raises(UsageError, match="'no-such-program-xyz' is not on PATH"):
        load(project, overrides=CheckOverrides(check="no-such-program-xyz --flag"))
    with pytest.raises(UsageError, match=r"'tests/chek\.mjs' does not exist"):
        load(project, overrides=CheckOverrides(check="node tests/chek.mjs"))
    with pytest.raises(UsageError, match=r"'\./run\.sh' does not exist"):
        load(project, overrides=CheckOverrides(check="./run.sh"))
    # Paths are taken from the --crate directory: a path that exists only from the package's gets the right one.
    (project / "app" / "tests" / "pkgcheck.mjs").write_text("")
    line = refused(project, overrides=CheckOverrides(check="node tests/pkgcheck.mjs --fast"))
    assert "taken from the --crate directory" in line and 'write --check "node app/tests/pkgcheck.mjs --fast"' in line
    assert load(project, overrides=CheckOverrides(check="node app/tests/pkgcheck.mjs")).check_files() == [
        "app/tests/pkgcheck.mjs"]
    (project / "run.sh").write_text("#!/bin/sh\nexit 0\n")
    assert "is not executable" in refused(project, overrides=CheckOverrides(check="./run.sh"))
    (project / "run.sh").chmod(0o755)
    assert load(project, overrides=CheckOverrides(check="./run.sh")).executables >= {"run.sh"}
    with pytest.raises(UsageError, match="does not exist"):
        load(project, overrides=CheckOverrides(check=f"node {project}/absent/check.mjs"))
    line = refused(project, overrides=CheckOverrides(check="wasm-pack-test", test="web"))
    assert "no test target 'web'" in line and "its test targets: node" in line
    assert load(project, overrides=CheckOverrides(check="wasm-pack-test", test="node")).check.test == "node"
    with pytest.raises(UsageError, match="--test NAME picks a test target"):
        load(project, overrides=CheckOverrides(check="node tests/check.mjs", test="node"))


def test_a_member_directory_points_at_its_workspace(project: Path) -> None:
    line = refused(project / "app", package=None)
    assert f"is a member of the workspace at {project}" in line and f"give --crate {project} --package" in line


def test_a_single_crate_project(tmp_path: Path) -> None:
    root = tmp_path / "single"
    (root / "src").mkdir(parents=True)
    (root / "Cargo.toml").write_text('[package]\nname = "solo"\nversion = "0.1.0"\nedition = "2021"\n'
                                     '[lib]\ncrate-type = ["cdylib"]\n[dependencies]\nwasm-bindgen = "0.2"\n')
    (root / "src" / "lib.rs").write_text("")
    (root / "check.sh").write_text("#!/bin/sh\nexit 0\n")
    p = crate.load(root, selection=Selection(), overrides=CheckOverrides(check="sh check.sh"))
    assert p.package == "solo" and p.package_dir == "" and "Cargo.lock" not in p.files
    (root / "Cargo.toml").write_text('[package]\nname = "solo"\nversion = "0.1.0"\n[lib]\ncrate-type = ["cdylib"]\n')
    with pytest.raises(UsageError, match="does not use wasm-bindgen"):
        crate.load(root, selection=Selection(), overrides=CheckOverrides(check="sh check.sh"))


def test_materialise_writes_the_copy_and_patches_only_the_copy(tmp_path: Path) -> None:
    p = load()
    variant = Variant(template=p.name, rustc=ToolchainSpec.parse("debian:1.96.0"),
                      bindgen=BindgenSource.crates("0.2.95"))
    dest = tmp_path / "probe" / "crate"
    made = p.materialise(dest, variant, rustc_version="1.96.0")
    assert made.workspace == dest and made.package == dest / "app" and made.pinning == "lockfile"
    assert made.pkg_module == dest / "app" / "pkg" / "app.js" and made.tool_config_dir == dest.parent
    assert (dest / "Cargo.lock").read_bytes() == (FIXTURE / "Cargo.lock").read_bytes()
    patched = p.materialise(dest, variant, rustc_version="1.96.0", patches={"wasm-bindgen": "/src/wb"})
    manifest = tomllib.loads((patched.workspace / "Cargo.toml").read_text())
    assert manifest["patch"]["crates-io"]["wasm-bindgen"] == {"path": "/src/wb"}
    assert manifest["workspace"]["members"] == ["app", "core"]
    assert "patch" not in tomllib.loads((FIXTURE / "Cargo.toml").read_text())


def test_to_template_makes_a_loadable_self_contained_template(tmp_path: Path) -> None:
    p = load()
    out = export.to_template(p, tmp_path / "shared", name="app-repro")
    t = templates.load(str(out))
    assert t.name == "app-repro" and t.check.kind is CheckKind.COMMAND and t.check.argv == ("node", "tests/check.mjs")
    assert t.rustflags == ("--cfg", "sum_in_core")
    manifest = tomllib.loads(t.files["Cargo.toml"].decode())
    assert manifest["features"]["default"] == ["repro"]
    assert manifest["dependencies"]["app-core"] == {"path": "deps/app-core"}
    assert manifest["package"]["version"] == "0.1.0"  # inherited from the workspace, filled in
    assert {"deps/app-core/Cargo.toml", "deps/app-core/src/lib.rs", "tests/node.rs", "tests/check.mjs",
            "src/lib.rs"} <= set(t.files)
    assert t.artifact() == "app"
    with pytest.raises(UsageError, match="already exists"):
        export.to_template(p, out, name="again")


def test_the_check_runs_in_the_copy_of_the_crate_directory_with_node_modules_linked(project: Path,
                                                                                   tmp_path: Path) -> None:
    from wasm_bisect.probe.check import command_line

    (project / "node_modules" / "ms").mkdir(parents=True)
    (project / "node_modules" / "ms" / "index.js").write_text("module.exports = 1;\n")
    (project / "node_modules" / ".package-lock.json").write_text('{"packages": {"node_modules/ms": {}}}')
    (project / "run.sh").write_text("#!/bin/sh\nexit 0\n")
    (project / "run.sh").chmod(0o755)
    before = digest_tree(project)
    p = load(project, overrides=CheckOverrides(check="./run.sh tests/data/case.json"))
    assert p.node_modules == ("node_modules",) and not [f for f in p.files if f.startswith("node_modules/")]
    variant = Variant(template=p.name, rustc=ToolchainSpec.parse("debian:1.96.0"),
                      bindgen=BindgenSource.crates("0.2.95"))
    dest = tmp_path / "probe" / "crate"
    made = p.materialise(dest, variant, rustc_version="1.96.0")
    assert (dest / "node_modules").is_symlink() and (dest / "node_modules").resolve() == (project / "node_modules")
    assert (dest / "run.sh").stat().st_mode & 0o111 and (dest / "tests" / "data" / "case.json").is_file()
    argv, cwd, _ = command_line(p.check, crate=made, build_env={"PATH": "/bin"}, variant=variant,
                                wasm_pack=Path("/wp/wasm-pack"))
    assert cwd == dest and argv == [str(dest / "run.sh"), "tests/data/case.json"]
    p.materialise(dest, variant, rustc_version="1.96.0")  # again over the old copy: the link goes, not its target
    assert digest_tree(project) == before
    # What node_modules holds is part of the check's identity: a reinstall is a different check.
    (project / "node_modules" / ".package-lock.json").write_text('{"packages": {}}')
    assert load(project, overrides=CheckOverrides(check="./run.sh tests/data/case.json")).check_hash != p.check_hash


def test_to_template_keeps_the_root_check_with_its_helpers_and_data(tmp_path: Path) -> None:
    files = export.template_files(load(), name="t")
    assert {"tests/check.mjs", "tests/support/values.mjs", "tests/data/case.json", "tests/node.rs"} <= set(files)
    assert ".cargo/config.toml" not in files and "Cargo.lock" not in files


def test_npm_scripts_are_checked_against_package_json(project: Path) -> None:
    npm = CheckOverrides(check="npm test")
    assert "needs a package.json" in refused(project, overrides=npm)
    (project / "package.json").write_text('{"scripts": {"check": "node tests/check.mjs"}}')
    line = refused(project, overrides=npm)
    assert "has no script 'test'" in line and "its scripts: check" in line
    assert load(project, overrides=CheckOverrides(check="npm run check")).check.argv == ("npm", "run", "check")
    (project / "package.json").write_text("{not json")
    assert "is not valid JSON" in refused(project, overrides=CheckOverrides(check="npm run check"))


def test_special_files_in_the_tree_are_left_out_never_opened(project: Path) -> None:
    import os

    os.mkfifo(project / "tests" / "data" / "pipe")
    (project / "tests" / "dangling").symlink_to(project / "nowhere")
    p = load(project)
    assert "tests/data/pipe" not in p.files and "tests/dangling" not in p.files
    assert "tests/data/pipe (not a regular file)" in p.left_out
