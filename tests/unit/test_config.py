"""wasm-bisect.toml / [tool.wasm-bisect]: found, validated, and overridden by flags."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from wasm_bisect import cli, config
from wasm_bisect.domain.errors import ConfigError, UsageError
from wasm_bisect.domain.model import ReferenceTypes
from wasm_bisect.domain.options import CheckOverrides, Profile, ProjectFlags, TimeoutVerdict, ToolSource
from wasm_bisect.runs import plan

GOOD = """
template = "vec-of-structs"
rustc = ["debian:1.63.0", "debian:1.96.0"]
bindgen = "0.2.92,0.2.99"
reference-types = ["default", "on"]
jobs = 2
shards = 3

[params]
n = 1000
"""


def test_finds_wasm_bisect_toml_first(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.wasm-bisect]\nrustc = "debian:1.63.0"\n')
    (tmp_path / "wasm-bisect.toml").write_text(GOOD)
    assert config.find(tmp_path) == tmp_path / "wasm-bisect.toml"
    cfg = config.load(cwd=tmp_path)
    assert cfg.rustc == "debian:1.63.0,debian:1.96.0"
    assert cfg.reference_types == "default,on"
    assert cfg.params == {"n": "1000"}
    assert cfg.jobs == 2 and cfg.shards == 3


def test_pyproject_table(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n[tool.wasm-bisect]\nbindgen = "0.2.99"\n'
                                             'allow_yanked = true\n')
    cfg = config.load(cwd=tmp_path)
    assert cfg.bindgen == "0.2.99" and cfg.allow_yanked is True
    assert cfg.source == tmp_path / "pyproject.toml"


def test_pyproject_without_table_is_not_a_config(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert config.find(tmp_path) is None
    assert config.load(cwd=tmp_path) == config.Config()
    with pytest.raises(ConfigError, match=r"no \[tool\.wasm-bisect\] table"):
        config.load(tmp_path / "pyproject.toml")


def test_template_path_is_relative_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    path = tmp_path / "sub" / "wasm-bisect.toml"
    path.write_text('template = "./my-template"\nstore = "results/store.sqlite3"\n')
    cfg = config.load(path)
    assert cfg.template == str(tmp_path / "sub" / "my-template")
    assert cfg.store == tmp_path / "sub" / "results" / "store.sqlite3"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("rustc = 163\n", "rustc must be"),
        ("rustc = []\n", "rustc must be"),
        ("jobs = 0\n", "jobs must be a positive integer"),
        ("jobs = true\n", "jobs must be"),
        ("reference-types = \"maybe\"\n", "is not one of"),
        ("colour = \"red\"\n", "unknown key 'colour'"),
        ("params = 3\n", "params must be"),
        ("allow-yanked = \"yes\"\n", "allow-yanked must be true or false"),
        ("rustc = [\n", "not valid TOML"),
        ("runtime = \"safari\"\n", "runtime 'safari' is not one of node, chromium, firefox"),
        ("browser-path = \"/usr/bin/chromium\"\n", "browser-path must be a table"),
        ("[browser-path]\nnode = \"/usr/bin/node\"\n", "keys: chromium, firefox"),
    ],
)
def test_bad_config_is_one_config_error(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "wasm-bisect.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        config.load(path)
    assert needle in info.value.one_line()
    assert "\n" not in info.value.one_line()
    assert str(path) in info.value.one_line()


def test_missing_explicit_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        config.load(tmp_path / "nope.toml")


def test_flags_override_config(tmp_path: Path) -> None:
    path = tmp_path / "wasm-bisect.toml"
    path.write_text(GOOD)
    cfg = config.load(path)
    chosen = config.settings(cfg, config.Flags(bindgen="0.2.93", jobs=1, params={"n": "5"}, profile=Profile.DEV))
    assert chosen.rustc == "debian:1.63.0,debian:1.96.0"  # from the file
    assert chosen.bindgen == "0.2.93"  # from the flag
    assert chosen.jobs == 1 and chosen.shards == 3
    assert chosen.params == {"n": "5"}
    assert chosen.options.profile == "dev"
    grid = plan.make_grid(chosen)
    assert [str(r) for r in grid.rustc] == ["debian:1.63.0", "debian:1.96.0"]
    assert [b.version for b in grid.bindgen] == ["0.2.93"]
    assert grid.reference_types == (ReferenceTypes.DEFAULT, ReferenceTypes.ON)
    assert dict(grid.params) == {"n": "5"}


def test_settings_need_both_axes() -> None:
    with pytest.raises(UsageError, match="no rustc axis"):
        config.settings(config.Config(), config.Flags(bindgen="0.2.99"))
    with pytest.raises(UsageError, match="no wasm-bindgen axis"):
        config.settings(config.Config(), config.Flags(rustc="debian:1.63.0"))
    with pytest.raises(UsageError, match="must be skip or bad"):
        config.settings(config.Config(), config.Flags(rustc="debian:1.63.0", bindgen="0.2.99",
                                                      build_failure="maybe"))  # type: ignore[arg-type]


def test_cli_bad_config_exits_2_with_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "wasm-bisect.toml").write_text("jobs = -3\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["wasm-bisect", "matrix", "--emit-github-matrix"])
    with pytest.raises(SystemExit) as info:
        cli.main()
    err = capsys.readouterr().err
    assert info.value.code == 2
    assert "jobs must be a positive integer" in err
    assert len(err.strip().splitlines()) == 1


def test_config_is_found_in_a_parent_directory(tmp_path: Path) -> None:
    """Like cargo and ruff: the nearest wasm-bisect.toml (or pyproject table) upwards from the cwd."""
    (tmp_path / "wasm-bisect.toml").write_text('rustc = "debian:1.63.0"\n')
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert config.find(deep) == tmp_path / "wasm-bisect.toml"
    (tmp_path / "a" / "pyproject.toml").write_text('[tool.wasm-bisect]\nbindgen = "0.2.99"\n')
    assert config.find(deep) == tmp_path / "a" / "pyproject.toml"  # the nearest wins
    chosen = config.resolve("probe", cwd=deep)
    assert chosen.bindgen == "0.2.99" and chosen.origin["bindgen"] == "config"
    assert chosen.rustc == "debian:1.96.0" and chosen.origin["rustc"] == "default"  # probe's default


def test_every_command_has_defaults_from_one_table() -> None:
    for command in ("probe", "bisect", "matrix", "verify", "bisect-commits", "report"):
        table = config.defaults(command)
        assert table["template"] == "vec-of-structs" and table["reference-types"] == "default"
    assert "rustc" not in config.defaults("matrix")  # a matrix never runs on a grid nobody asked for
    with pytest.raises(UsageError, match="takes one rustc value"):
        config.single_rustc(config.settings(config.Config(), config.Flags(rustc="debian:1.63.0,debian:1.96.0"),
                                            command="probe"))
    with pytest.raises(UsageError, match="takes one reference-types value"):
        config.single_reference_types(config.settings(config.Config(), config.Flags(reference_types="both"),
                                                      command="probe"))


# -- crate mode and the check, through the one settings path ----------------------------------------------------
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "user-project"


def test_crate_mode_keys_in_the_config(tmp_path: Path) -> None:
    (tmp_path / "wasm-bisect.toml").write_text(
        'crate = "proj"\npackage = "app"\nfeatures = ["repro", "x"]\nno-default-features = true\n'
        'check = "node tests/check.mjs"\nsignature = "detached ArrayBuffer"\ntimeout = 30\ntimeout-verdict = "bad"\n')
    cfg = config.load(cwd=tmp_path)
    assert cfg.crate == tmp_path / "proj" and cfg.package == "app" and cfg.features == ("repro", "x")
    assert cfg.no_default_features is True and cfg.timeout == 30.0 and cfg.timeout_verdict == "bad"
    chosen = config.settings(cfg, command="probe")
    assert chosen.crate == tmp_path / "proj" and chosen.selection.features == ("repro", "x")
    assert chosen.check.check == "node tests/check.mjs" and chosen.check.signature == "detached ArrayBuffer"
    flagged = config.settings(cfg, config.Flags(project=ProjectFlags(features=("other",)),
                                                checks=CheckOverrides(timeout=5.0)), command="probe")
    assert flagged.selection.features == ("other",) and flagged.check.timeout == 5.0  # flags win key by key
    assert config.settings(cfg, config.Flags(template="smoke"), command="probe").crate is None  # a --template flag wins


@pytest.mark.parametrize(("text", "needle"), [
    ("timeout = 0", "timeout must be"),
    ('timeout-verdict = "sometimes"', "timeout-verdict must be one of error, bad"),
    ('signature = "(["', "is not a valid regex"),
    ("all-features = 1", "all-features must be true or false"),
    ("features = []", "features must be"),
])
def test_bad_crate_mode_keys(tmp_path: Path, text: str, needle: str) -> None:
    (tmp_path / "wasm-bisect.toml").write_text(text + "\n")
    with pytest.raises(ConfigError, match=needle):
        config.load(cwd=tmp_path)


def test_crate_mode_flags_need_a_crate_and_one_reproducer(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--package selects from a project given with --crate"):
        config.settings(config.Config(), config.Flags(project=ProjectFlags(package="app")), command="probe")
    with pytest.raises(UsageError, match="--template and --crate are both given"):
        config.settings(config.Config(), config.Flags(template="smoke", project=ProjectFlags(crate=tmp_path)),
                        command="probe")
    chosen = config.settings(config.Config(), config.Flags(
        project=ProjectFlags(crate=FIXTURE, package="app", features=("repro",)),
        checks=CheckOverrides(check="wasm-pack-test")), command="probe")
    project = plan.reproducer(chosen)
    assert project.name == "crate:app" and project.check.kind == "wasm-pack-test"
    grid = plan.make_grid(config.settings(config.Config(), config.Flags(
        bindgen="0.2.92,0.2.99", project=ProjectFlags(crate=FIXTURE, package="app"),
        checks=CheckOverrides(check="wasm-pack-test")), command="bisect"),
                            chosen_reproducer=project)
    assert grid.template == "crate:app" and grid.params == ()


def test_template_check_flags_override_the_templates_own() -> None:
    tmpl = plan.reproducer(config.settings(config.Config(), config.Flags(
        template="smoke", checks=CheckOverrides(check="node check.mjs --fast", timeout=7.0,
                                            timeout_verdict=TimeoutVerdict.BAD)), command="probe"))
    assert tmpl.check.argv == ("node", "check.mjs", "--fast") and tmpl.check.timeout == 7.0
    assert "--check" in tmpl.command_args() and "--timeout-verdict" in tmpl.command_args()
    plain = plan.reproducer(config.settings(config.Config(), config.Flags(template="smoke"), command="probe"))
    assert plain.command_args() == ("--template", "smoke") and plain.check_hash != tmpl.check_hash
    with pytest.raises(UsageError, match="'nope-not-a-program' is not on PATH"):
        plan.reproducer(config.settings(config.Config(), config.Flags(
            template="smoke", checks=CheckOverrides(check="nope-not-a-program")), command="probe"))


# -- issue 13: config values are bounded, paths expand `~`, unknown keys get a "did you mean" -------------------
@pytest.mark.parametrize(("text", "needle"), [
    ('rusct = "debian:1.96.0"\n', "unknown key 'rusct'. did you mean 'rustc'?"),
    ("shards = 257\n", "at most 256"),
    ("jobs = 65\n", "at most 64"),
    ("jobs = true\n", "jobs must be"),
    ("rustc = " + "[" * 20_000 + "]" * 20_000 + "\n", "nests"),
    ("shards = " + "9" * 5000 + "\n", "not valid TOML"),
    ("rustc = [" + ", ".join(['"debian:1.96.0"'] * 1001) + "]\n", "1001 items"),
    ("[params]\n" + "".join(f"p{i} = 1\n" for i in range(65)), "at most 64"),
    ('store = "a\\u0000b"\n', "NUL"),
])
def test_config_values_are_bounded(tmp_path: Path, text: str, needle: str) -> None:
    (tmp_path / "wasm-bisect.toml").write_text(text)
    with pytest.raises((ConfigError, UsageError)) as info:
        config.load(tmp_path / "wasm-bisect.toml")
    assert needle in info.value.one_line()


def test_config_file_size_is_checked_before_reading(tmp_path: Path) -> None:
    with (tmp_path / "wasm-bisect.toml").open("wb") as handle:
        handle.truncate(20 * 1024**3)
    with pytest.raises(ConfigError, match="too large"):
        config.load(tmp_path / "wasm-bisect.toml")
    assert config.find(tmp_path) == tmp_path / "wasm-bisect.toml"  # found, and refused only when read
    (tmp_path / "wasm-bisect.toml").unlink()
    (tmp_path / "pyproject.toml").write_text("[tool]\nx = " + "[" * 50_000)  # someone else's broken file
    assert config.find(tmp_path) != tmp_path / "pyproject.toml"


def test_paths_in_config_expand_tilde(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "me"))
    (tmp_path / "wasm-bisect.toml").write_text('store = "~/s.sqlite3"\ntemplate = "~/t"\n')
    loaded = config.load(tmp_path / "wasm-bisect.toml")
    assert loaded.store == tmp_path / "me" / "s.sqlite3" and loaded.template == str(tmp_path / "me" / "t")


def test_flags_are_bounded_and_their_syntax_checked_at_once() -> None:
    empty = config.Config()
    for flags, needle in (({"shards": 300}, "between 1 and 256"), ({"jobs": 100}, "at most 64"),
                          ({"rustc": "1.96.0..1.63.0"}, "reversed rustc range"),
                          ({"bindgen": "0.2.92...0.2.99"}, "ill-formed")):
        with pytest.raises(UsageError, match=needle):
            config.settings(empty, config.Flags(**flags), command="bisect")  # type: ignore[arg-type]


def test_runtime_from_the_config_and_the_template(tmp_path: Path) -> None:
    from wasm_bisect.domain.model import Runtime
    from wasm_bisect.probe import templates

    path = tmp_path / "wasm-bisect.toml"
    path.write_text('runtime = ["node", "firefox"]\n[browser-path]\nchromium = "bin/chrome"\n')
    cfg = config.load(path)
    assert cfg.browser_paths == {"chromium": tmp_path / "bin" / "chrome"}
    chosen = config.settings(cfg, config.Flags(rustc="debian:1.96.0", bindgen="0.2.99"))
    smoke = templates.load("smoke")
    assert plan.runtimes(chosen, smoke) == (Runtime.NODE, Runtime.FIREFOX)
    assert chosen.browser_paths == {Runtime.CHROMIUM: tmp_path / "bin" / "chrome"}
    chromium = config.settings(cfg, config.Flags(runtime="chromium"), command="probe")
    assert plan.runtimes(chromium, smoke) == (Runtime.CHROMIUM,)
    assert plan.make_grid(chosen).runtimes == (Runtime.NODE, Runtime.FIREFOX)
    with pytest.raises(UsageError, match="takes one runtime"):
        plan.single_runtime(config.settings(cfg, command="probe"), smoke)
    # Nobody chose: node, unless the template cannot run there (then its first runtime).
    default = config.settings(config.Config(), command="probe")
    assert plan.single_runtime(default, smoke) is Runtime.NODE
    browser_only = templates.parse_manifest({"name": "b", "check": {"runtimes": ["firefox", "chromium"]}},
                                            root=tmp_path, files=dict(smoke.files))
    assert plan.single_runtime(default, browser_only) is Runtime.FIREFOX
    with pytest.raises(UsageError, match="does not run in node"):
        plan.single_runtime(config.settings(config.Config(), config.Flags(runtime="node"), command="probe"),
                              browser_only)


def test_tools_source_from_flag_config_and_defaults(tmp_path: Path) -> None:
    """`tools` (auto | prebuilt | source): flag > config > defaults.toml (auto), one value all the way."""

    assert config.settings(config.Config(), command="probe").tools is ToolSource.AUTO
    path = tmp_path / "wasm-bisect.toml"
    path.write_text('tools = "Source"\n')
    cfg = config.load(path)
    assert cfg.tools == "source"
    chosen = config.settings(cfg, command="bisect")
    assert chosen.tools is ToolSource.SOURCE and chosen.origin["tools"] == "config"
    assert config.settings(cfg, config.Flags(tools=ToolSource.PREBUILT), command="bisect").tools is ToolSource.PREBUILT
    path.write_text('tools = "download"\n')
    with pytest.raises(ConfigError, match="tools must be one of auto, prebuilt, source"):
        config.load(path)


def test_config_file_keys_and_flag_fields_do_not_drift() -> None:
    """`Config` (what a file says) and `Flags` with its two bundles (what flags say) list the same settings from two
    sources: a key added to one and not the other would be settable one way only. The differences are named."""
    import dataclasses

    from wasm_bisect import config
    from wasm_bisect.domain.options import CheckOverrides, ProjectFlags

    def names(cls: type) -> set[str]:
        return {f.name for f in dataclasses.fields(cls)}

    from_file = names(config.Config) - {"source"}  # where the file was found, not a setting
    from_flags = (names(config.Flags) - {"project", "checks"}) | names(ProjectFlags) | names(CheckOverrides)
    # `--browser-path RUNTIME=PATH` items become the file's `[browser_paths]` table.
    assert from_file - {"browser_paths"} == from_flags - {"browser_path"}
