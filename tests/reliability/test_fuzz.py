"""Fuzzing (Hypothesis) of the CLI's argument parsing and of config, manifest and version parsing.

In-process and without child processes: the probe itself is replaced by a pure fake, so a parse that succeeds
runs the real search, store and printing but builds nothing, and a program any command would start (git, cargo,
apt, a browser) cannot start (subprocess.Popen raises ENOENT: the tool's own "cannot start" error, exit 2). So
every command is fuzzed with its own options, past click's parsing into its own argument checks; files are
written only under a temporary working directory and home.
Contract: no crash (only SystemExit leaves `cli.main`), no traceback, exit 0 or 2 (1 and 3 are findings:
verify's verdicts, matrix --fail-on-bad, an aborted search), and on exit 2 exactly one error line, the last one.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.main import get_command

from wasm_bisect import cli, config, toolchains
from wasm_bisect.bindgen import index
from wasm_bisect.domain import grid, versions
from wasm_bisect.domain.errors import ConfigError, TemplateError, UsageError
from wasm_bisect.domain.model import Outcome, Variant, Verdict
from wasm_bisect.probe import oracle as probe_oracle
from wasm_bisect.probe import template_cargo, templates
from wasm_bisect.util import paths

FUZZ = settings(max_examples=int(os.environ.get("RELIABILITY_FUZZ_EXAMPLES", "150")), deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
DEBIAN = ("1.63.0", "1.85.0", "1.96.0")


def fake_probe(variant: Variant, *_: object, **__: object) -> Outcome:
    """A monotone grid: bad from wasm-bindgen 0.2.95 on, with any rustc. Nothing is built."""
    bad = versions.bindgen_key(variant.bindgen.version) >= versions.bindgen_key("0.2.95")
    return Outcome(verdict=Verdict.BAD if bad else Verdict.GOOD, reason="fake probe (fuzzing)")


def no_programs(*args: object, **kwargs: object) -> None:
    raise OSError(errno.ENOENT, "fuzzing: no program is started")


@pytest.fixture(autouse=True)
def _no_real_work(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.setattr(subprocess, "Popen", no_programs)
    monkeypatch.chdir(tmp_path)  # relative paths a command writes (-o, --store, init DIR) land here
    monkeypatch.setattr(probe_oracle, "run_probe", fake_probe)
    monkeypatch.setattr(index, "releases", lambda **_: list(versions.bundled_releases()))
    monkeypatch.setattr(toolchains.DebianProvider, "releases", lambda self: dict.fromkeys(DEBIAN))
    monkeypatch.setattr(toolchains.RustupProvider, "available", lambda self: ["1.82.0", "stable"])
    monkeypatch.setattr(toolchains.RustupProvider, "installed", lambda self: [])
    yield


def run_main(argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
             ) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["wasm-bisect", *argv])
    with pytest.raises(SystemExit) as info:
        cli.main()
    out, err = capsys.readouterr()
    code = info.value.code
    return (code if isinstance(code, int) else 0 if code is None else 2), out, err


def test_a_valid_bisect_runs_on_the_fake_probe(capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The fuzzed path does reach the search, store and printing when the input parses."""
    argv = ["bisect", "--rustc", "debian:1.63.0,debian:1.96.0", "--bindgen", "0.2.92..0.2.99", "--json"]
    rc, out, err = run_main(argv, capsys, monkeypatch)
    assert rc == 0, err
    assert '"bindgen": "0.2.95"' in out


def check_contract(argv: list[str], rc: int, err: str, *, findings: bool = False) -> None:
    assert "Traceback" not in err, (argv, err)
    assert rc in ((0, 1, 2, 3) if findings else (0, 2)), (argv, rc, err)
    if rc == 2:
        errors = [ln for ln in err.splitlines() if "wasm-bisect: error:" in ln]
        assert len(errors) == 1, (argv, err)
        assert [ln for ln in err.splitlines() if ln.strip()][-1] == errors[0], (argv, err)


ARGV_TEXT = st.text(st.characters(blacklist_characters="\x00"), max_size=24)
VERSIONISH = st.text(alphabet="0123456789.,:-@ debianrustuppath/~", max_size=28)
RUSTC = st.one_of(st.sampled_from(["debian:1.63.0,debian:1.96.0", "debian:1.96.0", "1.63.0..1.96.0",
                                   "debian:1.63.0..1.96.0", "debian:..1.85.0", "rustup:1.82.0,rustup:stable",
                                   "path:/nonexistent", "debian:1.70.0", "1.96", "", ",", "debian:1.63.0,"]),
                  VERSIONISH, ARGV_TEXT)
BINDGEN = st.one_of(st.sampled_from(["0.2.92..0.2.99", "0.2.99", "0.2.94", "..0.2.93", "0.2.95..", "..",
                                     "0.2.92,0.2.99", "0.2.99..0.2.92", "0.2.94..0.2.94", "0.2.1000", "0.2"]),
                    VERSIONISH, ARGV_TEXT)
RT = st.one_of(st.sampled_from(["default", "on", "off", "externref", "both", "all", "default,on", "ON", ""]),
               ARGV_TEXT)
POINT = st.one_of(st.none(), st.builds(lambda r, b: f"{r}@{b}", RUSTC, BINDGEN), ARGV_TEXT)
FLAGS = st.lists(st.sampled_from([["--find-fix"], ["--allow-yanked"], ["--no-follow-up"], ["--json"],
                                  ["--repeat", "2"], ["--repeat", "0"], ["--threshold", "2"], ["-j", "2"],
                                  ["-j", "0"], ["--param", "n=5"], ["--param", "x"], ["--build-failure", "bad"],
                                  ["--template", "smoke"], ["--template", "nope"], ["--resume"]]), max_size=4)


@FUZZ
@given(rustc=RUSTC, bindgen=BINDGEN, rt=RT, good=POINT, bad=POINT, flags=FLAGS)
def test_fuzz_bisect(*, rustc: str, bindgen: str, rt: str, good: str | None, bad: str | None, flags: list[list[str]],
                     capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    argv = ["bisect", "--rustc", rustc, "--bindgen", bindgen, "--reference-types", rt,
            *(["--good", good] if good is not None else []), *(["--bad", bad] if bad is not None else []),
            *[x for flag in flags for x in flag]]
    rc, _, err = run_main(argv, capsys, monkeypatch)
    check_contract(argv, rc, err)


@FUZZ
@given(rustc=RUSTC, bindgen=BINDGEN, rt=RT, params=st.lists(ARGV_TEXT, max_size=2),
       template=st.one_of(st.sampled_from(["smoke", "vec-of-structs", "nope", "../..", "/"]), ARGV_TEXT))
def test_fuzz_probe(*, rustc: str, bindgen: str, rt: str, params: list[str], template: str,
                    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    argv = ["probe", "--template", template, "--rustc", rustc, "--bindgen", bindgen, "--reference-types", rt,
            *[x for p in params for x in ("--param", p)]]
    rc, _, err = run_main(argv, capsys, monkeypatch)
    check_contract(argv, rc, err)


@FUZZ
@given(rustc=RUSTC, bindgen=BINDGEN, rt=RT, shard=st.one_of(st.none(), ARGV_TEXT, st.sampled_from(["1/2", "0/0"])),
       cells=st.lists(st.one_of(POINT.filter(bool), ARGV_TEXT), max_size=2))
def test_fuzz_matrix_planning(*, rustc: str, bindgen: str, rt: str, shard: str | None, cells: list[str],
                              capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """matrix --emit-github-matrix only plans: axes, shards and cells are parsed, nothing is probed."""
    argv = ["matrix", "--emit-github-matrix", "--rustc", rustc, "--bindgen", bindgen, "--reference-types", rt,
            *(["--shard", shard] if shard is not None else []), *[x for c in cells for x in ("--cell", c)]]
    rc, _, err = run_main(argv, capsys, monkeypatch)
    check_contract(argv, rc, err)


def _leaves(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    if hasattr(command, "commands"):
        for name, sub in sorted(command.commands.items()):
            yield from _leaves(sub, (*path, name))
    else:
        yield path, command


LEAVES = dict(_leaves(get_command(cli.app)))  # every command, from the app itself: none is left out
GROUPS = sorted({path[0] for path in LEAVES if len(path) > 1})
COMMANDS = [*sorted({path[0] for path in LEAVES}), "--version", "--help", "-h", "nope"]


@FUZZ
@given(command=st.sampled_from(COMMANDS), rest=st.lists(st.one_of(ARGV_TEXT, st.sampled_from(
    ["--json", "--help", "-h", "-j", "--format", "pdf", "--store", "--config", "list", "show", "add", "available",
     "info", "install", "init", "--bindgen", "--template", "--patch", "--good", "--bad", "--", "-", "=",
     "--rustc=debian:1.96"])), max_size=5))
def test_fuzz_any_command_parse(command: str, rest: list[str], capsys: pytest.CaptureFixture[str],
                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Random words after any command or group: a usage error, a help text or a cheap answer, never a crash."""
    argv = [command, *rest]
    rc, _, err = run_main(argv, capsys, monkeypatch)
    check_contract(argv, rc, err, findings=True)


# Values for each command's own options and arguments, by name; paths are relative (the working directory is
# a temporary one) so that nothing is written outside it.
RELATIVE = st.one_of(st.sampled_from(["out", "out.json", "sub/dir", ".", "", "md:out.md", "store.sqlite3"]),
                     ARGV_TEXT.filter(lambda t: not t.startswith(("/", "~")) and ".." not in t))
NUMBER = st.one_of(st.sampled_from(["0", "1", "2", "-1", "1/2", "0/0", "x", "1e9", "99999999999999999999"]), ARGV_TEXT)
ANY = st.one_of(st.sampled_from(["x", "0", "2", "node", "chromium", "firefox", "bad", "good", "a=b", "md:out.md"]),
                ARGV_TEXT)
VALUES: dict[str, st.SearchStrategy[str]] = {
    "--rustc": RUSTC, "spec": RUSTC, "--bindgen": BINDGEN, "--against": BINDGEN, "--reference-types": RT,
    "--good": st.one_of(POINT.filter(bool), BINDGEN), "--bad": st.one_of(POINT.filter(bool), BINDGEN),  # type: ignore[arg-type]
    "--cell": POINT.filter(bool),  # type: ignore[arg-type]
    "--template": st.one_of(st.sampled_from(["smoke", "vec-of-structs", "nope"]), ARGV_TEXT),
    "name": st.one_of(st.sampled_from(["smoke", "vec-of-structs", "nope"]), ARGV_TEXT),
    "--patch": st.one_of(st.sampled_from(["0.2.100", "0.2.99", "git+https://example.invalid/x@main", ".",
                                          "git+ext::sh"]), VERSIONISH),
    "--bindgen-repo": st.sampled_from([".", "https://example.invalid/wasm-bindgen", "git@x:y", ""]),
    "--format": st.sampled_from(["md", "json", "junit", "svg", "html", "pdf", ""]),
    "--runtime": st.one_of(st.sampled_from(["node", "chromium", "firefox", "node,chromium", "safari"]), ARGV_TEXT),
    "provider": st.sampled_from(["debian", "rustup", "path", "nope"]),
    "--jobs": NUMBER, "--repeat": NUMBER, "--threshold": NUMBER, "--limit": NUMBER, "--timeout": NUMBER,
    "--shard": NUMBER, "--shards": NUMBER,
}
PATHS = {"--output", "--store", "--into", "--markdown", "stores", "archive", "dest", "--from-crate", "--crate",
         "--config", "--browser-path"}


def _value(name: str) -> st.SearchStrategy[str]:
    return RELATIVE if name in PATHS else VALUES.get(name, ANY)


def _param_words(param: Any) -> st.SearchStrategy[list[str]]:
    if param.param_type_name == "argument":
        value = _value(param.name)
        if param.nargs == -1:
            return st.lists(value, min_size=1 if param.required else 0, max_size=2)
        one = value.map(lambda v: [v])
        return one if param.required else st.one_of(st.just([]), one)
    name = param.opts[0]
    if param.is_flag:
        return st.sampled_from([[], [name], *([x] for x in param.secondary_opts)])
    given_ = _value(name).map(lambda v: [name, v])
    return given_ if param.required else st.one_of(st.just([]), st.just([]), given_)


def command_argv(path: tuple[str, ...]) -> st.SearchStrategy[list[str]]:
    """Argument lists click accepts for the command (options in any mix, then its arguments) with fuzzed values."""
    params = LEAVES[path].params
    options = [_param_words(p) for p in params if p.param_type_name != "argument"]
    arguments = [_param_words(p) for p in params if p.param_type_name == "argument"]
    return st.tuples(*options, *arguments).map(lambda parts: [*path, *(w for part in parts for w in part)])


@pytest.mark.parametrize("path", sorted(LEAVES), ids=" ".join)
def test_fuzz_each_command_reaches_its_own_checks(path: tuple[str, ...], capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Each command with its own options and fuzzed values: past click into the command's own checks (some
    examples at least must get there), then the same contract."""
    reached: list[str] = []
    check_home = paths.check_home

    def checked() -> None:  # runs once click has parsed everything, right before the command itself
        reached.append(" ".join(path))
        check_home()

    monkeypatch.setattr(paths, "check_home", checked)

    @settings(FUZZ, max_examples=max(10, FUZZ.max_examples // 2), derandomize=True)  # the same examples each run
    @given(argv=command_argv(path))
    def fuzz(argv: list[str]) -> None:
        rc, _, err = run_main(argv, capsys, monkeypatch)
        check_contract(argv, rc, err, findings=True)

    fuzz()
    assert reached, f"no fuzzed argument list of `{' '.join(path)}` got past click's parsing"


# -- the parsers on their own -------------------------------------------------------------------------------

TOML_VALUE = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                                    st.text(max_size=12)),
                          lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                      max_size=3), max_leaves=8)
CONFIG_KEYS = st.one_of(st.sampled_from(list(config._KEYS)), st.sampled_from(["reference_types", "allow_yanked"]),
                        st.text(max_size=10))


@FUZZ
@given(data=st.dictionaries(CONFIG_KEYS, TOML_VALUE, max_size=5))
def test_fuzz_config_parse(data: dict[str, Any]) -> None:
    with contextlib.suppress(ConfigError):
        config.parse(data, source=Path("/x/wasm-bisect.toml"))


@FUZZ
@given(raw=st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode)),
       name=st.sampled_from(["wasm-bisect.toml", "pyproject.toml"]))
def test_fuzz_config_file(raw: bytes, name: str, tmp_path: Path) -> None:
    path = tmp_path / name
    path.write_bytes(raw)
    with contextlib.suppress(ConfigError):
        config.load(path)


FILES = {"Cargo.toml": b'[package]\nname = "x"\n', "src/lib.rs": b"", "check.mjs": b""}
MANIFEST_KEYS = st.sampled_from(["name", "description", "issue", "check", "params", "expect", "build"])


@FUZZ
@given(manifest=st.dictionaries(st.one_of(MANIFEST_KEYS, st.text(max_size=6)), TOML_VALUE, max_size=5),
       check=st.dictionaries(st.sampled_from(["script", "timeout", "failure_signature"]), TOML_VALUE, max_size=3))
def test_fuzz_template_manifest(manifest: dict[str, Any], check: dict[str, Any]) -> None:
    manifest = {**manifest, **({"check": check} if check else {})}
    with contextlib.suppress(TemplateError, UsageError):
        templates.parse_manifest(manifest, root=Path("/x/t"), files=dict(FILES)).param_values({})


@FUZZ
@given(text=st.one_of(st.text(max_size=120), st.binary(max_size=120).map(lambda b: b.decode("latin-1")),
                      st.builds(lambda k, v: f"[package]\nname = \"x\"\n{k} = {v}\n",
                                st.sampled_from(["description", "metadata", "build", "[dependencies]\nwasm-bindgen"]),
                                st.text(max_size=30).map(lambda s: '"' + s.replace('"', "") + '"'))))
def test_fuzz_template_cargo_toml(text: str) -> None:
    """A template's Cargo.toml is accepted only when it can be rendered exactly (else TemplateError)."""
    try:
        template_cargo.check_cargo_toml("t", text.encode())
    except TemplateError:
        return
    tomllib.loads(text)  # accepted: it parses as TOML


@FUZZ
@given(text=st.one_of(VERSIONISH, ARGV_TEXT, RUSTC, BINDGEN),
       available=st.one_of(st.none(), st.lists(st.sampled_from(["1.63.0", "1.85.0", "1.96.0", "stable", "x"]),
                                               max_size=4)))
def test_fuzz_version_parsers(text: str, available: list[str] | None) -> None:
    """Version, range, list, point and shard syntax: a value or a UsageError naming the input, nothing else."""
    for parse in (lambda: grid.parse_rustc_axis(text, available=available),
                  lambda: versions.select_bindgen(text), lambda: grid.parse_point(text, "--good"),
                  lambda: grid.shard([], text), lambda: grid.parse_reference_types(text),
                  lambda: versions.parse_rustc(text), lambda: versions.parse_bindgen_version(text)):
        try:
            parse()
        except UsageError as exc:
            assert exc.one_line()
