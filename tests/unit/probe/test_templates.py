import re
from pathlib import Path

import pytest
import toml

from unit.conftest import make_variant
from wasm_bisect.domain.errors import TemplateError, UsageError
from wasm_bisect.domain.model import BuildOptions, Variant
from wasm_bisect.probe import render, template_cargo, templates


def variant(version: str = "0.2.99", **kw: object) -> Variant:
    return make_variant("vec-of-structs", "debian:1.63.0", version, **kw)


def test_builtins_load_with_manifests() -> None:
    names = templates.builtin_names()
    assert {"smoke", "vec-of-structs", "typedarray-view"} <= set(names)
    t = templates.load("vec-of-structs")
    assert t.params["n"].default == "1000000"
    assert t.failure_signature and "detached" in t.failure_signature
    assert t.check_script == "check.mjs"
    assert t.param_values({"n": "10"}) == (("n", "10"),)
    with pytest.raises(UsageError):
        t.param_values({"bogus": "1"})


def test_unknown_template_names_the_builtins() -> None:
    with pytest.raises(TemplateError) as info:
        templates.load("no-such-template")
    assert "vec-of-structs" in info.value.one_line()


def copy(tmp_path: Path) -> Path:
    return templates.init("smoke", tmp_path / "mine")


def test_init_copies_and_refuses_existing(tmp_path: Path) -> None:
    dest = copy(tmp_path)
    assert (dest / "check.mjs").is_file()
    assert templates.load(str(dest)).name == "smoke"
    with pytest.raises(UsageError):
        templates.init("smoke", dest)


def test_missing_check_script(tmp_path: Path) -> None:
    dest = copy(tmp_path)
    (dest / "check.mjs").unlink()
    with pytest.raises(TemplateError, match="no check script"):
        templates.load(str(dest))


def test_malformed_manifest(tmp_path: Path) -> None:
    dest = copy(tmp_path)
    (dest / "template.toml").write_text("name = [unclosed\n")
    with pytest.raises(TemplateError, match="not valid TOML"):
        templates.load(str(dest))


@pytest.mark.parametrize("script", ["../escape.mjs", "/etc/passwd", "a\\..\\b"])
def test_check_path_cannot_escape(tmp_path: Path, script: str) -> None:
    dest = copy(tmp_path)
    manifest = toml.loads((dest / "template.toml").read_text())
    manifest["check"]["script"] = script
    (dest / "template.toml").write_text(toml.dumps(manifest))
    with pytest.raises(TemplateError):
        templates.load(str(dest))


def test_symlinks_are_refused(tmp_path: Path) -> None:
    dest = copy(tmp_path)
    (dest / "src" / "leak.rs").symlink_to("/etc/hostname")
    with pytest.raises(TemplateError, match="symlink"):
        templates.load(str(dest))


def test_bad_timeout_and_regex(tmp_path: Path) -> None:
    dest = copy(tmp_path)
    manifest = toml.loads((dest / "template.toml").read_text())
    manifest["check"]["timeout"] = -1
    (dest / "template.toml").write_text(toml.dumps(manifest))
    with pytest.raises(TemplateError, match="timeout"):
        templates.load(str(dest))
    manifest["check"]["timeout"] = 5
    manifest["check"]["failure_signature"] = "(unclosed"
    (dest / "template.toml").write_text(toml.dumps(manifest))
    with pytest.raises(TemplateError, match="regex"):
        templates.load(str(dest))


def test_hashes_track_crate_and_check_separately(tmp_path: Path) -> None:
    dest = copy(tmp_path)
    a = templates.load(str(dest))
    (dest / "check.mjs").write_text((dest / "check.mjs").read_text() + "\n// edit\n")
    b = templates.load(str(dest))
    assert a.content_hash == b.content_hash and a.check_hash != b.check_hash
    (dest / "src" / "lib.rs").write_text((dest / "src" / "lib.rs").read_text() + "\n// edit\n")
    c = templates.load(str(dest))
    assert c.content_hash != b.content_hash


def test_render_pins_exact_bindgen_and_disables_wasm_opt() -> None:
    t = templates.load("typedarray-view")
    files = render.render(t, variant(), rustc_version="1.63.0")
    cargo = toml.loads(files["Cargo.toml"].decode())
    assert cargo["dependencies"]["wasm-bindgen"] == "=0.2.99"
    # Pinned to whatever matches the pinned wasm-bindgen: cargo picks the js-sys release made for 0.2.99 (issue 13).
    assert cargo["dependencies"]["js-sys"] == render.COMPANION_REQUIREMENT == "*"
    assert cargo["package"]["rust-version"] == "1.63"
    assert cargo["package"]["name"] == render.CRATE_NAME
    assert cargo["lib"]["crate-type"][0] == "cdylib"
    for profile in ("release", "dev", "profiling"):
        assert cargo["package"]["metadata"]["wasm-pack"]["profile"][profile]["wasm-opt"] is False
    assert cargo["workspace"] == {}
    with_opt = render.render(t, variant(options=BuildOptions(wasm_opt=True)), rustc_version="1.96.0")
    assert toml.loads(with_opt["Cargo.toml"].decode())["package"]["metadata"]["wasm-pack"]["profile"]["release"][
        "wasm-opt"] is True


def test_render_patches_and_keeps_features() -> None:
    t = templates.load("smoke")
    doc = toml.loads(t.files["Cargo.toml"].decode())
    doc["dependencies"]["wasm-bindgen"] = {"version": "0.2", "features": ["serde-serialize"]}
    t2 = templates.Template(**{**t.__dict__, "files": {**t.files, "Cargo.toml": toml.dumps(doc).encode()}})
    files = render.render(t2, variant(), rustc_version="1.96.0", patches={"wasm-bindgen": "/src/wb"})
    cargo = toml.loads(files["Cargo.toml"].decode())
    assert cargo["dependencies"]["wasm-bindgen"] == {"version": "=0.2.99", "features": ["serde-serialize"]}
    assert cargo["patch"]["crates-io"]["wasm-bindgen"] == {"path": "/src/wb"}


def test_hostile_values_stay_data() -> None:
    t = templates.load("smoke")
    evil = 'x"\n[patch.crates-io]\nfoo = { path = "/" }\n'
    doc = toml.loads(t.files["Cargo.toml"].decode())
    doc["package"]["description"] = evil
    t2 = templates.Template(**{**t.__dict__, "files": {**t.files, "Cargo.toml": toml.dumps(doc).encode()}})
    cargo = toml.loads(render.render(t2, variant(), rustc_version="1.96.0")["Cargo.toml"].decode())
    assert cargo["package"]["description"] == evil
    assert "patch" not in cargo


# -- issue 13: templates cannot take wasm-bindgen's family from elsewhere; manifests are strict ---------------
FAMILY = """[package]
name = "x"
[dependencies]
wasm-bindgen = { version = "0.2", features = ["serde-serialize"] }
js-sys = "=0.3.50"
web-sys = { version = "0.3.60", features = ["Window"] }
wasm-bindgen-futures = "0.4"
[dev-dependencies]
wasm-bindgen-test = "0.3"
[build-dependencies]
wasm-bindgen-shared = "0.2"
"""


def _with_cargo(text: str) -> templates.Template:
    t = templates.load("smoke")
    template_cargo.check_cargo_toml("smoke", text.encode())
    return templates.Template(**{**t.__dict__, "files": {**t.files, "Cargo.toml": text.encode()}})


def test_render_pins_every_family_crate() -> None:
    cargo = toml.loads(render.cargo_toml(_with_cargo(FAMILY), variant("0.2.92"), rustc_version="1.96.0"))
    deps = cargo["dependencies"]
    assert deps["wasm-bindgen"] == {"version": "=0.2.92", "features": ["serde-serialize"]}
    # Companions: whatever matches the pin (each of their releases requires one wasm-bindgen exactly), even
    # where the template asked for a release made for another wasm-bindgen.
    assert deps["js-sys"] == "*" and deps["wasm-bindgen-futures"] == "*"
    assert deps["web-sys"] == {"version": "*", "features": ["Window"]}
    assert cargo["dev-dependencies"]["wasm-bindgen-test"] == "*"
    assert cargo["build-dependencies"]["wasm-bindgen-shared"] == "*"
    assert render.family_pins(cargo, "0.2.92") == []
    assert render.family_pins({"dependencies": {"js-sys": "0.3"}}, "0.2.92") == ["dependencies.js-sys"]


@pytest.mark.parametrize(("cargo", "needle"), [
    ("[target.'cfg(unix)'.dependencies]\nwasm-bindgen = \"0.2\"\n", "target-specific table (target.'cfg(unix)'"),
    ("[target.'cfg(unix)'.dev-dependencies]\nwb = { package = \"wasm-bindgen-test\" }\n", "target-specific"),
    ('[dependencies]\nwb = { package = "wasm-bindgen", version = "0.2" }\n', "takes wb from package"),
    ('[dependencies]\nmy-js = { package = "js_sys", version = "0.3" }\n', "takes my-js from package"),
    ('[dependencies]\njs-sys = { git = "https://x.invalid/wb" }\n', "takes js-sys from git (dependencies.js-sys.git)"),
    ('[dependencies]\nweb-sys = { path = "/x" }\n', "takes web-sys from path"),
    ('[dependencies]\nwasm-bindgen-futures = { workspace = true }\n', "from workspace"),
    ('[dev-dependencies]\nwasm-bindgen-test = { registry = "evil", version = "0.3" }\n', "from registry"),
    ('[dependencies]\nWasm_Bindgen = "0.2"\n', "spells Wasm_Bindgen unlike crates.io"),
    ('[patch.crates-io]\nanything = { package = "web-sys", path = "/x" }\n', "patches or replaces anything"),
    ("[patch.'https://github.com/x/y']\nwasm-bindgen-test = { path = \"/x\" }\n",
     "patches or replaces wasm-bindgen-test"),
    ('[replace]\n"js-sys:0.3.50" = { path = "/x" }\n', "patches or replaces js-sys:0.3.50"),
    ('[target]\n"cfg(unix)" = 5\n', "target.'cfg(unix)' in the Cargo.toml of template t must be a table"),
])
def test_family_cannot_escape_the_pin(cargo: str, needle: str) -> None:
    with pytest.raises(TemplateError) as info:
        template_cargo.check_cargo_toml("t", ('[package]\nname = "x"\n' + cargo).encode())
    assert needle in info.value.one_line()


def test_target_tables_without_the_family_are_fine() -> None:
    template_cargo.check_cargo_toml("t", b'[package]\nname = "x"\n[target.\'cfg(unix)\'.dependencies]\nlibc = "0.2"\n')


@pytest.mark.parametrize(("manifest", "needle"), [
    ({"chek": {}}, "unknown key 'chek' in template.toml of template smoke. did you mean 'check'?"),
    ({"check": {"timout": 5}}, "unknown key 'timout' in [check] of template smoke. did you mean 'timeout'?"),
    ({"build": {"timeuot": 5}}, "did you mean 'timeout'?"),
    ({"params": {"n": {"defualt": "1"}}}, "unknown key 'defualt' in [params.n]"),
    ({"expect": {"good": "x", "gud": "y"}}, "unknown key 'gud' in [expect]"),
    ({"description": 5}, "description of template smoke must be a string, not int"),
    ({"issue": True}, "issue of template smoke must be a string, not bool"),
    ({"params": {"n": {"default": [1]}}}, "params.n.default of template smoke must be a string or a number"),
    ({"params": {"n": {"default": True}}}, "must be a string or a number, not bool"),
    ({"params": {"n": {"description": 3}}}, "params.n.description of template smoke must be a string"),
    ({"expect": {"good": 1}}, "expect.good of template smoke must be a string"),
    ({"params": {f"p{i}": {} for i in range(70)}}, "70 parameters (at most 64)"),
])
def test_manifest_is_strict(manifest: dict[str, object], needle: str) -> None:
    t = templates.load("smoke")
    with pytest.raises(TemplateError) as info:
        templates.parse_manifest({"name": "smoke", **manifest}, root=t.root, files=t.files)
    assert needle in info.value.one_line()


def test_numbers_stay_welcome_as_parameter_defaults() -> None:
    t = templates.load("smoke")
    parsed = templates.parse_manifest({"name": "smoke", "params": {"n": {"default": 1000}}}, root=t.root,
                                      files=t.files)
    assert parsed.params["n"].default == "1000"


def test_sizes_are_checked_before_reading(tmp_path: Path) -> None:
    dest = copy(tmp_path)
    with (dest / "huge.bin").open("wb") as handle:
        handle.truncate(50 * 1024**3)  # sparse: reading it would take minutes and all the memory
    with pytest.raises(TemplateError, match="too large"):
        templates.load(str(dest))
    (dest / "huge.bin").unlink()
    deep = dest
    for _ in range(40):
        deep = deep / "d"
    deep.mkdir(parents=True)
    with pytest.raises(TemplateError, match="too large"):
        templates.load(str(dest))


def test_init_never_removes_what_it_did_not_create(tmp_path: Path) -> None:
    partial = tmp_path / ".t.partial"
    partial.mkdir()
    (partial / "mine.txt").write_text("the user's")
    with pytest.raises(UsageError, match="already exists"):
        templates.init("smoke", tmp_path / "t")
    assert (partial / "mine.txt").read_text() == "the user's" and not (tmp_path / "t").exists()
    made = templates.init("smoke", tmp_path / "new" / "deeper" / "t2")  # parents made as needed
    assert (made / "template.toml").is_file() and not list((tmp_path / "new" / "deeper").glob(".*partial"))


def test_a_parameter_value_with_nul_is_refused() -> None:
    """Parameters reach the check as environment variables, which cannot hold NUL: one line, exit 2."""
    with pytest.raises(UsageError, match="NUL"):
        templates.load("smoke").param_values({"a": "1\0"})


def test_the_worked_example_of_docs_templates_md_loads(tmp_path: Path) -> None:
    """docs/templates.md's example is a valid template as written."""
    doc = (Path(__file__).resolve().parents[3] / "docs" / "templates.md").read_text()
    example = doc.split("## A worked example", 1)[1]
    blocks = re.findall(r"`([\w./]+)`:\n\n```\w+\n(.*?)```", example, re.S)
    assert [name for name, _ in blocks] == ["Cargo.toml", "src/lib.rs", "check.mjs", "template.toml"]
    root = tmp_path / "vec-u8"
    for name, text in blocks:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    tmpl = templates.load(str(root))
    assert tmpl.name == "vec-u8" and tmpl.failure_signature == "FAIL: length" and tmpl.params["n"].default == "1000"


def test_check_command_and_rustflags_in_template_toml(tmp_path: Path) -> None:
    dest = copy(tmp_path)
    (dest / "check.mjs").unlink()  # a command instead of node check.mjs: no check.mjs needed
    (dest / "run.sh").write_text("#!/bin/sh\nexit 0\n")
    (dest / "template.toml").write_text('name = "t"\n[check]\ncommand = "sh run.sh"\ntimeout_verdict = "bad"\n'
                                        '[build]\nrustflags = ["--cfg", "x"]\n')
    t = templates.load(str(dest))
    assert t.check.kind == "command" and t.check.argv == ("sh", "run.sh") and t.check.timeout_verdict == "bad"
    assert t.project_rustflags == (("--cfg", "template.toml build.rustflags"), ("x", "template.toml build.rustflags"))
    t.require_check()
    edited = copy(tmp_path / "again")
    (edited / "template.toml").write_text('name = "t"\n[check]\ncommand = "sh run.sh"\ntimeout_verdict = "bad"\n'
                                          '[build]\nrustflags = ["--cfg", "x"]\n')
    (edited / "run.sh").write_text("#!/bin/sh\nexit 1\n")
    assert templates.load(str(edited)).check_hash != t.check_hash  # the command's own file is part of the check
    (dest / "template.toml").write_text('name = "t"\n[check]\ncommand = "no-such-program-q"\n')
    with pytest.raises(UsageError, match="is not on PATH"):
        templates.load(str(dest)).require_check()
    (dest / "template.toml").write_text('name = "t"\n[build]\nrustflags = [1]\n')
    (dest / "check.mjs").write_text("")
    with pytest.raises(TemplateError, match=r"build\.rustflags"):
        templates.load(str(dest))


def test_a_template_without_new_settings_keeps_its_hashes_format() -> None:
    """Stored verdicts of plain templates are keyed as before: the check script and its settings."""
    from wasm_bisect.probe import fingerprint

    t = templates.load("vec-of-structs")
    settings = f"{t.timeout}|{t.failure_signature}|{fingerprint.engine()}".encode()
    assert t.check_hash == templates._digest({"check.mjs": t.files["check.mjs"], "<settings>": settings})
    assert t.content_hash == templates._digest({p: c for p, c in t.files.items() if p != "check.mjs"})
    assert t.command_args() == ("--template", "vec-of-structs")
