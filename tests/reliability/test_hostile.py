"""Hostile content: template and user values stay data; they never become TOML keys, shell code or paths."""

from __future__ import annotations

import ast
import json
import shlex
import shutil
import stat
import subprocess
import tomllib
from pathlib import Path

import pytest

from wasm_bisect.domain.errors import TemplateError, UsageError
from wasm_bisect.domain.grid import Grid
from wasm_bisect.domain.model import BindgenSource, ReferenceTypes, ToolchainSpec, Variant
from wasm_bisect.domain.reproduce import probe_command
from wasm_bisect.probe import build, render, slots, templates

from .helpers import BUILTIN

PACKAGE = Path(build.__file__).resolve().parent
# (value, refused at load): a value the TOML writer cannot keep exactly is refused; every other one must come
# back verbatim, so the test cannot pass by refusing everything.
NASTY = [
    ('"\n[patch.crates-io]\nwasm-bindgen = { path = "/evil" }\n', False),
    ("$(touch PWNED) `touch PWNED` ; touch PWNED && touch PWNED | touch PWNED", False),
    ("' \" \\ \n\t\0 ]] [[ {} = # ${HOME}", True),
    ("../../../../etc/passwd", False),
]


def _toml_str(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string (\uXXXX escapes included)


def _template(tmp_path: Path, *, description: str = "", cargo: str | None = None) -> templates.Template:
    dest = tmp_path / "t"
    shutil.copytree(BUILTIN / "smoke", dest)
    (dest / "template.toml").write_text(
        f'name = "smoke"\ndescription = {_toml_str(description)}\n[params.a]\ndefault = {_toml_str(description)}\n'
        '[params.b]\ndefault = "3"\n')
    if cargo is not None:
        (dest / "Cargo.toml").write_text(cargo)
    return templates.load(str(dest))


@pytest.mark.parametrize(("value", "refused"), NASTY)
def test_values_cannot_inject_into_cargo_toml(tmp_path: Path, value: str, refused: bool) -> None:
    """Manifest values, parameter values and template Cargo.toml strings are edited as TOML data: they come
    back verbatim as strings, or (when the TOML writer could not keep them exactly) the template is refused."""
    cargo = (f'[package]\nname = "x"\nversion = "0.1.0"\ndescription = {_toml_str(value)}\n'
             f'[dependencies.wasm-bindgen]\nversion = {_toml_str(value)}\nfeatures = ["serde-serialize"]\n')
    if refused:
        with pytest.raises(TemplateError, match="cannot keep exactly"):  # refused at load: exit 2, nothing built
            _template(tmp_path, description=value, cargo=cargo)
        return
    tmpl = _template(tmp_path, description=value, cargo=cargo)
    variant = Variant(template=tmpl.name, rustc=ToolchainSpec.parse("debian:1.96.0"),
                      bindgen=BindgenSource.crates("0.2.99"), params=tmpl.param_values({"a": value, "b": value}))
    text = render.cargo_toml(tmpl, variant, rustc_version="1.96.0")
    doc = tomllib.loads(text)  # what cargo reads
    assert set(doc) == {"package", "lib", "dependencies", "workspace"}  # no [patch], no new tables
    assert doc["package"]["description"] == value  # kept verbatim, as a string
    assert doc["package"]["name"] == render.CRATE_NAME
    assert doc["dependencies"]["wasm-bindgen"] == {"version": "=0.2.99", "features": ["serde-serialize"]}


@pytest.mark.parametrize(("cargo", "needle"), [
    ('[dependencies]\nwasm-bindgen = { version = "0.2", git = "https://x.invalid/wb" }\n', "from git"),
    ('[dependencies]\nwasm-bindgen = { version = "0.2", registry = "evil" }\n', "from registry"),
    ('[dependencies]\nwasm-bindgen = { version = "0.2", package = "not-wasm-bindgen" }\n', "from package"),
    ('[patch.crates-io]\njs-sys = { path = "/evil" }\n', "patches or replaces js-sys"),
    ('[patch."https://github.com/rust-lang/crates.io-index"]\nwasm-bindgen-macro = { path = "/e" }\n',
     "patches or replaces wasm-bindgen-macro"),
    ('[replace]\n"wasm-bindgen:0.2.99" = { path = "/evil" }\n', "patches or replaces wasm-bindgen:0.2.99"),
    ('dependencies = "wasm-bindgen"\n[package]\nname = "x"\n', "[dependencies]"),
    ('[package]\nname = "x"\n[lib]\ncrate-type = "cdylib"\n', "lib.crate-type"),
    ("[package]\nmetadata = 3\n", "package.metadata"),
])
def test_template_cannot_take_wasm_bindgen_from_elsewhere(tmp_path: Path, cargo: str, needle: str) -> None:
    """The grid decides wasm-bindgen: a template pinning another source would make verdicts lie."""
    with pytest.raises(TemplateError) as info:
        _template(tmp_path, cargo=cargo if "[package]" in cargo else '[package]\nname = "x"\n' + cargo)
    assert needle in info.value.one_line()


@pytest.mark.parametrize(("manifest", "needle"), [
    ('name = "smoke\\n"', "template name"),
    ('name = "../../etc"', "template name"),
    ('name = "x"\n[params."a\\n"]\ndefault = "1"', "template parameter"),
    ('name = "x"\n[params."A"]\ndefault = "1"', "template parameter"),
    ('name = "x"\n[params."a;rm -rf /"]\ndefault = "1"', "template parameter"),
    ('name = "x"\n[check]\nscript = "../../../../bin/sh"', "must be a relative path"),
    ('name = "x"\n[check]\nscript = "src/../../x.mjs"', "must be a relative path"),
    ('name = "x"\n[check]\nscript = "C:\\\\x.mjs"', "must be a relative path"),
    ('name = "x"\n[check]\nscript = "node_modules/x.mjs"', "has no check script"),
])
def test_manifest_names_and_paths_stay_inside(tmp_path: Path, manifest: str, needle: str) -> None:
    dest = tmp_path / "t"
    shutil.copytree(BUILTIN / "smoke", dest)
    (dest / "node_modules").mkdir()
    (dest / "node_modules" / "x.mjs").write_text("")
    (dest / "template.toml").write_text(manifest + "\n")
    with pytest.raises(TemplateError) as info:
        templates.load(str(dest))
    assert needle in info.value.one_line()


def test_no_shell_anywhere() -> None:
    """Only tools.py starts processes, always with an argv list: no shell=True, os.system or os.popen."""
    offenders = []
    for source in sorted(PACKAGE.glob("*.py")):
        tree = ast.parse(source.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.keyword) and node.arg == "shell":
                offenders.append(f"{source.name}:{node.lineno} shell=")
            if isinstance(node, ast.Attribute) and node.attr in ("system", "popen", "spawnl", "execvp") and \
                    isinstance(node.value, ast.Name) and node.value.id == "os":
                offenders.append(f"{source.name}:{node.lineno} os.{node.attr}")
            if isinstance(node, ast.Import | ast.ImportFrom) and source.name != "tools.py":
                names = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) else [])
                if "subprocess" in names:
                    offenders.append(f"{source.name}:{node.lineno} imports subprocess")
    assert offenders == []


def test_reproduce_script_quotes_everything(tmp_path: Path) -> None:
    """reproduce.sh under a hostile home path, with hostile env values and arguments, runs exactly the argv
    it names and nothing else (executed by a real sh, with fake wasm-pack and node that log their argv)."""
    base = tmp_path / "a b$(touch PWNED1)`touch PWNED2`'q\";touch PWNED3"
    crate = base / "crate"
    crate.mkdir(parents=True)
    fake = base / "bin"
    fake.mkdir()
    log = tmp_path / "argv.log"
    for name in ("wasm-pack", "node"):
        script = fake / name
        script.write_text(f'#!/bin/sh\nfor a in "$0" "$@"; do printf "%s\\n" "$a"; done >> {shlex.quote(str(log))}\n'
                          f'printf -- "--\\n" >> {shlex.quote(str(log))}\n')
        script.chmod(script.stat().st_mode | stat.S_IXUSR)
    env = {"PATH": f"{fake}:/usr/bin:/bin", "RUSTFLAGS": "-Cx'; touch PWNED4; echo '",
           "WASM_BISECT_PKG": f"{crate}/$(touch PWNED5).js", "CARGO_TARGET_DIR": "`touch PWNED6`"}
    argv = ["wasm-pack", "build", str(crate), "--target", "nodejs", "--x=$(touch PWNED7)"]
    check = ["node", str(crate / "check.mjs;touch PWNED8")]
    script = tmp_path / "reproduce.sh"
    script.write_text(build.reproduce_script(crate, env, argv, check))
    subprocess.run(["sh", str(script)], cwd=tmp_path, check=True, env={"PATH": "/usr/bin:/bin"})
    assert not list(tmp_path.rglob("PWNED*")), "a value ran as shell code"
    calls = log.read_text().split("--\n")[:2]
    assert [c.splitlines() for c in calls] == [[str(fake / "wasm-pack"), *argv[1:]], [str(fake / "node"), check[1]]]


def test_printed_reproduce_command_is_shell_safe() -> None:
    """The `reproduce:` line of a bisect quotes parameter values: pasting it runs wasm-bisect, nothing else."""
    grid = Grid(template="vec-of-structs", rustc=(ToolchainSpec.parse("debian:1.96.0"),),
                bindgen=(BindgenSource.crates("0.2.99"),), reference_types=(ReferenceTypes.DEFAULT,),
                params=(("n", "1; touch PWNED $(id) `id` '\""),))
    variant = grid.variants()[0]
    command = probe_command(variant)
    assert shlex.split(command) == ["wasm-bisect", "probe", "--template", "vec-of-structs", "--rustc",
                                    "debian:1.96.0", "--bindgen", "0.2.99", "--reference-types", "default",
                                    "--param", "n=1; touch PWNED $(id) `id` '\""]


def test_toolchain_spec_cannot_steer_cache_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Target dirs, toolchain prefixes and locks named after user input stay inside the tool's home."""
    from wasm_bisect import toolchains
    from wasm_bisect.util import fs as fsutil
    from wasm_bisect.util import paths

    monkeypatch.setenv("WASM_BISECT_HOME", str(tmp_path / "home"))
    for text in ("rustup:../../../../tmp/evil", "path:/../../etc", "rustup:a/b\\c\nd"):
        provider, _, version = text.partition(":")
        if provider == "rustup":  # refused as a spec since issue 13; the paths must stay inside anyway
            with pytest.raises(UsageError, match="not a toolchain name"):
                ToolchainSpec.parse(text)
        spec = ToolchainSpec(provider=provider, version=version)
        fake = toolchains.Toolchain(spec=spec, version="1.96.0", verbose_version="", host="", sysroot=tmp_path,
                                    bin_dir=tmp_path, cargo_version="1.96.0", wasm32_std=True)
        with slots.target_slot(fake, ["-Cx"]) as slot:
            assert (paths.work_dir() / "targets") in slot.parents and ".." not in slot.parts
    for name in ("../../evil", "a/b", "/abs"):
        lock_file = Path(fsutil.lock(name).lock_file)
        assert lock_file.parent == paths.locks_dir()
    with pytest.raises(UsageError, match=r"X\.Y\.Z"):
        ToolchainSpec.parse("debian:../../1.96.0")
