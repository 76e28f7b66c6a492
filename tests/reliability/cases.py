"""The bad-input table: each case is an argv (with `{d}` for a scratch directory), what the error must name,
and an optional setup that writes broken files into the scratch directory. docs/reliability.md lists them."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .helpers import BUILTIN

Setup = Callable[[Path], None]


@dataclass(frozen=True)
class Case:
    id: str
    args: tuple[str, ...]
    needle: str  # the one error line must contain this (case-insensitive)
    setup: Setup | None = None
    home: str = "temp"  # temp: a fresh private home; linked: a private home with the machine's toolchains
    stdin: str | None = None
    env: tuple[tuple[str, str], ...] = ()  # extra environment ({d} is replaced too)
    prepare_home: Setup | None = None  # e.g. a store with one finished run
    allowed: tuple[str, ...] = ()  # documented writes: caches that are complete or absent (path prefixes)
    issue_class: int = 0  # round 2 (issue 13): which of its twelve classes the case belongs to
    group: str = ""  # round 3 (issue 21): which of its groups the case belongs to


def _template(d: Path, name: str = "t") -> Path:
    dest = d / name
    shutil.copytree(BUILTIN / "smoke", dest)
    return dest


def _manifest(d: Path, extra: str, *, replace: str | None = None) -> None:
    t = _template(d)
    text = replace if replace is not None else (t / "template.toml").read_text()
    (t / "template.toml").write_text(text + extra)


def _cargo(d: Path, text: str) -> None:
    (_template(d) / "Cargo.toml").write_text(text)


def no_manifest(d: Path) -> None:
    (_template(d) / "template.toml").unlink()


def manifest_symlink(d: Path) -> None:
    t = _template(d)
    (d / "elsewhere.toml").write_text((t / "template.toml").read_text())
    (t / "template.toml").unlink()
    (t / "template.toml").symlink_to(d / "elsewhere.toml")


def file_symlink(d: Path) -> None:
    t = _template(d)
    (t / "src" / "lib.rs").unlink()
    (t / "src" / "lib.rs").symlink_to("/etc/passwd")


def dir_symlink(d: Path) -> None:
    t = _template(d)
    (d / "outside").mkdir()
    (t / "assets").symlink_to(d / "outside", target_is_directory=True)


def missing_lib(d: Path) -> None:
    (_template(d) / "src" / "lib.rs").unlink()


def check_outside(d: Path) -> None:
    (d / "outside.mjs").write_text("process.exit(0)\n")
    _manifest(d, "", replace='name = "t"\n[check]\nscript = "../outside.mjs"\n')


def rust_toolchain(d: Path) -> None:
    (_template(d) / "rust-toolchain.toml").write_text('[toolchain]\nchannel = "nightly-2020-01-01"\n')


USER_PROJECT = Path(__file__).resolve().parents[1] / "fixtures" / "user-project"
P = "{d}/project"
NODE_CHECK = ("--check", "node tests/check.mjs")


def user_project(d: Path) -> Path:
    dest = d / "project"
    shutil.copytree(USER_PROJECT, dest)
    return dest


def project_with_broken_webdriver_json(d: Path) -> None:
    (user_project(d) / "app" / "webdriver.json").write_text("{\"goog:chromeOptions\": ")


def escaping_path_dependency(d: Path) -> None:
    """app's path dependency on core points through `..` to outside the project directory."""
    project = user_project(d)
    shutil.copytree(project / "core", d / "outside-core")
    manifest = project / "app" / "Cargo.toml"
    manifest.write_text(manifest.read_text().replace('path = "../core"', 'path = "../../outside-core"'))


def config(text: str) -> Setup:
    def write(d: Path) -> None:
        (d / "wasm-bisect.toml").write_text(text)

    return write


def plain_file(d: Path) -> None:
    (d / "file").write_text("not a directory\n")


def store_dir(d: Path) -> None:
    (d / "store").mkdir()


def store_with_a_run(home: Path) -> None:
    """A store holding one finished probe run (written through the store API, nothing built)."""
    from wasm_bisect.domain.model import BindgenSource, Outcome, ToolchainSpec, Variant, Verdict
    from wasm_bisect.store import Store

    store = Store(home / "store.sqlite3")
    variant = Variant(template="smoke", rustc=ToolchainSpec.parse("debian:1.96.0"),
                      bindgen=BindgenSource.crates("0.2.99"))
    run_id = store.start_run(kind="probe", fingerprint=variant.key, command="wasm-bisect probe",
                             config={"variant": variant.identity()})
    outcome = Outcome(verdict=Verdict.GOOD, reason="OK")
    store.put(variant, "t", "c", outcome)
    store.record(run_id, variant, "t", "c", outcome, cached=False)
    store.finish_run(run_id, {"verdict": "good"})
    store.close()


def not_a_store(d: Path) -> None:
    (d / "shard.sqlite3").write_text("this is not SQLite\n")


def not_a_repo(d: Path) -> None:
    (d / "repo").mkdir()
    (d / "repo" / "README").write_text("no git here\n")


def empty_repo(d: Path) -> None:
    repo = d / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)


T = "{d}/t"
BINDGEN_FROM_PATH = '[package]\nname = "x"\n[dependencies]\nwasm-bindgen = { version = "0.2", path = "/x" }\n'
PATCHED_BINDGEN = '[package]\nname = "x"\n[patch.crates-io]\nwasm-bindgen = { git = "https://x.invalid/wb" }\n'
GRID = ("--rustc", "debian:1.63.0,debian:1.96.0", "--bindgen", "0.2.92..0.2.99")

CASES: tuple[Case, ...] = (
    # -- versions, ranges, grids --------------------------------------------------------------------------
    Case("rustc-not-xyz", ("probe", "--rustc", "debian:1.96"), "is not of the form X.Y.Z"),
    Case("rustc-no-version", ("probe", "--rustc", "debian:"), "has no version"),
    Case("unknown-provider", ("probe", "--rustc", "apt:1.96.0"), "unknown toolchain provider 'apt'"),
    Case("unknown-debian-version", ("probe", "--rustc", "debian:1.70.0"), "Debian has no rustc 1.70.0"),
    Case("path-without-rustc", ("probe", "--rustc", "path:{d}"), "has no bin/rustc"),
    Case("bindgen-not-xyz", ("probe", "--bindgen", "latest"), "cannot read wasm-bindgen version 'latest'"),
    Case("unknown-bindgen", ("bisect", *GRID[:2], "--bindgen", "0.2.92..0.2.1000"),
         "unknown wasm-bindgen version '0.2.1000'"),
    Case("reversed-range", ("bisect", "--bindgen", "0.2.99..0.2.92"), "reversed wasm-bindgen range"),
    Case("ill-formed-range", ("bisect", "--bindgen", "0.2.92...0.2.99"), "ill-formed wasm-bindgen range"),
    Case("empty-list-item", ("bisect", "--bindgen", "0.2.92,,0.2.99"), "empty item"),
    Case("reversed-rustc-range", ("bisect", "--rustc", "1.96.0..1.63.0"), "reversed rustc range"),
    Case("rustc-range-unavailable", ("bisect", "--rustc", "debian:1.50.0..1.60.0"), "unknown rustc version"),
    Case("empty-after-filtering", ("bisect", "--bindgen", "0.2.94..0.2.94"), "is empty"),
    Case("single-cell", ("bisect", "--rustc", "debian:1.96.0", "--bindgen", "0.2.99"),
         "needs at least two versions", home="linked"),
    Case("good-same-as-bad", ("bisect", *GRID, "--good", "debian:1.96.0@0.2.99", "--bad", "debian:1.96.0@0.2.99"),
         "--good and --bad name the same pair", home="linked"),
    Case("good-not-a-pair", ("bisect", "--good", "1.63.0"), "is not RUSTC@BINDGEN"),
    Case("good-off-axis", ("bisect", *GRID, "--good", "debian:1.70.0@0.2.92"), "not on the grid's axis"),
    Case("bad-reference-types", ("bisect", "--reference-types", "sometimes"), "--reference-types 'sometimes'"),
    Case("repeat-zero", ("bisect", "--repeat", "0"), "'--repeat': input should be greater than or equal to 1"),
    Case("threshold-minority", ("bisect", "--repeat", "3", "--threshold", "1"), "strict majority"),
    Case("jobs-zero", ("bisect", "-j", "0"), "'--jobs' / '-j': input should be greater than or equal to 1"),
    Case("not-an-integer", ("bisect", "--repeat", "many"), "Invalid value for '--repeat'"),
    Case("unknown-option", ("bisect", "--frobnicate"), "No such option: --frobnicate"),
    Case("bad-param-syntax", ("probe", "--param", "n"), "is not NAME=VALUE"),
    Case("unknown-param", ("probe", "--param", "zz=1"), "has no parameter 'zz'"),
    Case("bad-build-failure", ("probe", "--build-failure", "ignore"), "'ignore' is not one of 'skip', 'bad'"),
    Case("bad-target", ("probe", "--target", "web"), "'web' is not one of 'nodejs'"),
    Case("toolchain-add-unknown-provider", ("toolchain", "add", "rustc:1.0.0"), "unknown toolchain provider"),
    Case("toolchain-available-unknown", ("toolchain", "available", "apt"), "unknown toolchain provider 'apt'"),
    Case("tools-nothing", ("tools", "install"), "nothing to install"),
    Case("tools-not-exact", ("tools", "install", "--bindgen", "0.2"), "not an exact X.Y.Z version"),
    # -- templates ----------------------------------------------------------------------------------------
    Case("unknown-template", ("probe", "--template", "nope"), "unknown template 'nope'"),
    Case("markup-in-input", ("probe", "--template", "[/x][bold]"), "unknown template '[/x][bold]'"),
    Case("newline-in-input", ("templates", "init", "smoke", "{d}/file/a\nb"), "a\\nb: Not a directory", plain_file),
    Case("terminal-escape-in-input", ("templates", "init", "smoke", "{d}/file/\x1b[2J\x1b[31mred"),
         "file/\\x1b[2J\\x1b[31mred: Not a directory", plain_file),
    Case("unknown-user-home", ("probe", "--template", "~nosuchuser0/t"), "cannot expand '~nosuchuser0/t'"),
    Case("template-dotdot", ("templates", "show", "../../../../../../../../../../etc"), "has no template.toml"),
    Case("template-absolute", ("probe", "--template", "/etc"), "/etc has no template.toml"),
    Case("template-no-manifest", ("probe", "--template", T), "has no template.toml", no_manifest),
    Case("template-manifest-symlink", ("probe", "--template", T), "has no template.toml", manifest_symlink),
    Case("template-bad-toml", ("probe", "--template", T), "is not valid TOML",
         lambda d: _manifest(d, "", replace="name = [unclosed\n")),
    Case("template-file-symlink", ("probe", "--template", T), "src/lib.rs is a symlink", file_symlink),
    Case("template-dir-symlink", ("templates", "show", T), "assets is a symlink", dir_symlink),
    Case("template-missing-lib", ("probe", "--template", T), "has no src/lib.rs", missing_lib),
    Case("check-script-dotdot", ("probe", "--template", T), "must be a relative path inside the template",
         check_outside),
    Case("check-script-absolute", ("probe", "--template", T), "must be a relative path inside the template",
         lambda d: _manifest(d, "", replace='name = "t"\n[check]\nscript = "/etc/passwd"\n')),
    Case("template-name-escape", ("probe", "--template", T), "template name '../../evil'",
         lambda d: _manifest(d, "", replace='name = "../../evil"\n')),
    Case("param-name-escape", ("probe", "--template", T), "template parameter '../x'",
         lambda d: _manifest(d, '\n[params."../x"]\ndefault = "1"\n')),
    Case("check-timeout-negative", ("probe", "--template", T), "check.timeout",
         lambda d: _manifest(d, "", replace='name = "t"\n[check]\ntimeout = -1\n')),
    Case("build-timeout-text", ("probe", "--template", T), "build.timeout",
         lambda d: _manifest(d, '\n[build]\ntimeout = "forever"\n')),
    Case("bad-failure-regex", ("probe", "--template", T), "not a valid regex",
         lambda d: _manifest(d, "", replace='name = "t"\n[check]\nfailure_signature = "(["\n')),
    Case("cargo-toml-malformed", ("probe", "--template", T), "Cargo.toml of template smoke is not valid TOML",
         lambda d: _cargo(d, "[package\nname = \n")),
    Case("cargo-bindgen-path", ("probe", "--template", T), "takes wasm-bindgen from path",
         lambda d: _cargo(d, BINDGEN_FROM_PATH)),
    Case("cargo-patch-bindgen", ("probe", "--template", T), "patches or replaces wasm-bindgen",
         lambda d: _cargo(d, PATCHED_BINDGEN)),
    Case("template-rust-toolchain", ("probe", "--template", T), "has a rust-toolchain.toml", rust_toolchain),
    Case("init-exists", ("templates", "init", "smoke", "{d}"), "already exists"),
    Case("init-unwritable", ("templates", "init", "smoke", "{d}/file/t"), "cannot write", plain_file),
    # -- store, runs, reports, merge -------------------------------------------------------------------------
    Case("log-no-store", ("log",), "no runs yet"),
    Case("log-unknown-run", ("log", "nope"), "no run 'nope'", home="linked", prepare_home=store_with_a_run),
    Case("home-is-a-file", ("runs",), "cannot", plain_file, env=(("WASM_BISECT_HOME", "{d}/file/home"),)),
    Case("report-unknown-format", ("report", "--format", "pdf"), "'pdf' is not one of 'md'"),
    Case("report-store-missing", ("report", "--store", "{d}/none.sqlite3"), "does not exist"),
    Case("report-store-dir", ("report", "--store", "{d}/store"), "--store", store_dir),
    Case("report-unwritable-output", ("report", "--no-env", "-o", "{d}/file/report.md"), "cannot write", plain_file,
         home="linked", prepare_home=store_with_a_run),
    Case("matrix-no-axis", ("matrix",), "no rustc axis"),
    Case("matrix-unwritable-report", ("matrix", *GRID, "--report", "md:{d}/file/r.md"), "cannot write --report",
         plain_file),
    Case("matrix-export-is-dir", ("matrix", *GRID, "--export", "{d}"), "--export"),
    Case("matrix-bad-shard", ("matrix", *GRID, "--shard", "3/2"), "--shard '3/2'"),
    Case("matrix-bad-report-spec", ("matrix", *GRID, "--report", "pdf:x.pdf"), "is not FORMAT:PATH"),
    Case("matrix-bad-cell", ("matrix", *GRID, "--cell", "debian:1.96.0"), "--cell"),
    # -- runtimes and browsers ---------------------------------------------------------------------------------
    Case("runtime-unknown", ("probe", "--runtime", "safari"), "is not one of 'node', 'chromium', 'firefox'"),
    Case("runtime-list-unknown", ("matrix", *GRID, "--runtime", "node,edge"), "--runtime 'node,edge'"),
    Case("runtime-not-in-template", ("probe", "--template", "imagedata-detached", "--runtime", "node"),
         "does not run in node"),
    Case("bisect-two-runtimes", ("bisect", "--runtime", "chromium,firefox"), "is not one of"),
    Case("browser-missing", ("probe", "--runtime", "chromium"), "apt-get install chromium chromium-driver",
         env=(("PATH", "{d}"),)),
    Case("browser-path-not-executable", ("probe", "--runtime", "firefox", "--browser-path", "{d}/none"),
         "is not an executable file"),
    Case("browser-path-ambiguous", ("matrix", *GRID, "--runtime", "chromium,firefox", "--browser-path", "/bin/sh"),
         "does not say which browser"),
    Case("config-bad-runtime", ("matrix", "--config", "{d}/wasm-bisect.toml"), "runtime 'opera' is not one of",
         config('runtime = "opera"\n')),
    Case("config-bad-toml", ("matrix", "--config", "{d}/wasm-bisect.toml"), "is not valid TOML",
         config("rustc = [\n")),
    Case("config-unknown-key", ("matrix", "--config", "{d}/wasm-bisect.toml"), "unknown key 'frobnicate'",
         config("frobnicate = 1\n")),
    Case("config-bad-type", ("matrix", "--config", "{d}/wasm-bisect.toml"), "jobs must be",
         config('jobs = "many"\n')),
    Case("config-missing", ("matrix", "--config", "{d}/absent.toml"), "does not exist"),
    Case("merge-not-a-store", ("merge", "{d}/shard.sqlite3", "--into", "{d}/merged.sqlite3"), "shard.sqlite3",
         not_a_store),
    Case("merge-missing-store", ("merge", "{d}/absent.sqlite3"), "absent.sqlite3"),
    Case("nox-matrix-bad-json", ("nox-matrix",), "json", stdin="{not json"),
    # -- verify and bisect-commits (git sources) -----------------------------------------------------------
    Case("verify-bad-source", ("verify", "--against", "0.2.99", "--patch", "nonsense!"),
         "'nonsense!' is not a version"),
    Case("verify-git-no-rev", ("verify", "--against", "0.2.99", "--patch", "git+https://example.invalid/wb.git@"),
         "names no revision"),
    Case("verify-unpublished-release", ("verify", "--against", "0.2.99", "--patch", "9.9.9"),
         "9.9.9 is not a published wasm-bindgen release"),
    Case("verify-unwritable-markdown", ("verify", "--against", "0.2.99", "--patch", "0.2.100", "--markdown",
                                        "{d}/file/v.md"), "cannot write --markdown", plain_file),
    Case("verify-patch-unknown-user", ("verify", "--against", "0.2.99", "--patch", "~nosuchuser0/wb"),
         "cannot expand"),
    Case("verify-missing-checkout", ("verify", "--against", "0.2.99", "--patch", "path:{d}/absent"), "absent"),
    Case("bisect-commits-not-a-repo", ("bisect-commits", "--bindgen-repo", "{d}/repo", "--good", "a", "--bad", "b"),
         "cannot fetch", not_a_repo),
    Case("bisect-commits-unknown-rev", ("bisect-commits", "--bindgen-repo", "{d}/repo", "--good", "v0", "--bad", "v1"),
         "revision 'v0' does not exist", empty_repo),
    # -- crate mode: the user's own project (read only; refused before any build) ---------------------------------
    Case("crate-not-cargo", ("bisect", "--crate", "{d}", *NODE_CHECK), "is not a Cargo project"),
    Case("crate-missing-dir", ("probe", "--crate", "{d}/absent", *NODE_CHECK), "no such directory"),
    Case("crate-unknown-package", ("bisect", "--crate", P, "--package", "nope", *NODE_CHECK),
         "package 'nope' is not in the workspace", user_project),
    Case("crate-no-package", ("probe", "--crate", P, *NODE_CHECK), "choose one with --package", user_project),
    Case("crate-unknown-feature", ("bisect", "--crate", P, "--package", "app", "--features", "nope", *NODE_CHECK),
         "package app has no feature 'nope'", user_project),
    Case("crate-path-escape", ("bisect", "--crate", P, "--package", "app", *NODE_CHECK),
         "'../../outside-core' is outside", escaping_path_dependency),
    Case("crate-member-dir", ("probe", "--crate", f"{P}/app", *NODE_CHECK), "is a member of the workspace",
         user_project),
    Case("crate-check-missing", ("bisect", "--crate", P, "--package", "app", "--check", "no-such-check-xyz --run"),
         "check command 'no-such-check-xyz' is not on PATH", user_project),
    Case("crate-check-file-missing", ("matrix", *GRID, "--crate", P, "--package", "app", "--check",
                                      "node tests/missing.mjs"), "'tests/missing.mjs' does not exist", user_project),
    Case("crate-check-unquoted", ("probe", "--crate", P, "--package", "app", "--check", 'node "tests/check.mjs'),
         "is not a command line", user_project),
    Case("crate-no-check", ("verify", "--against", "0.2.99", "--patch", "0.2.100", "--crate", P, "--package", "app"),
         "crate mode needs a check", user_project),
    Case("crate-unknown-test", ("bisect-commits", "--bindgen-repo", "{d}/repo", "--good", "a", "--bad", "b",
                                "--crate", P, "--package", "app", "--check", "wasm-pack-test", "--test", "web"),
         "no test target 'web'", user_project),
    Case("crate-test-without-test-check", ("probe", "--crate", P, "--package", "app", *NODE_CHECK, "--test", "node"),
         "--test NAME picks a test target", user_project),
    Case("crate-command-in-browser", ("probe", "--crate", P, "--package", "app", *NODE_CHECK, "--runtime", "chromium"),
         "crate mode checks run as given", user_project),
    Case("crate-webdriver-json-broken", ("probe", "--crate", P, "--package", "app", "--check", "wasm-pack-test",
                                         "--runtime", "firefox"), "webdriver.json is not valid JSON",
         project_with_broken_webdriver_json),
    Case("crate-and-template", ("probe", "--template", "smoke", "--crate", P, *NODE_CHECK), "both given", user_project),
    Case("package-without-crate", ("probe", "--package", "app"), "--package selects from a project given with --crate"),
    Case("crate-bad-signature", ("probe", "--crate", P, "--package", "app", *NODE_CHECK, "--signature", "(["),
         "--signature '([' is not a valid regex", user_project),
    Case("crate-timeout-zero", ("probe", "--crate", P, "--package", "app", *NODE_CHECK, "--timeout", "0"),
         "'--timeout': input should be greater than or equal to 0.001", user_project),
    Case("template-check-missing", ("probe", "--template", "smoke", "--check", "no-such-check-xyz"),
         "is not on PATH"),
    Case("init-from-crate-exists", ("templates", "init", "--from-crate", P, "{d}", "--package", "app", *NODE_CHECK),
         "already exists", user_project),
)
