"""What a probe builds and checks: a reproducer (a template, or the user's own crate copied into the tool's home).

The oracle, the build and the runs see only this protocol: a name, the hashes that key stored verdicts, how to
write the crate for one variant (`materialise`), the check to run on it, and how commands name it again.
"""

from __future__ import annotations

import json
import shlex
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import Any, Literal, Protocol

from wasm_bisect.domain.errors import UsageError
from wasm_bisect.domain.model import Runtime, Variant
from wasm_bisect.domain.options import CheckOverrides, TimeoutVerdict
from wasm_bisect.domain.signature import check_signature

WASM_PACK_TEST = "wasm-pack-test"  # the `--check` value that runs the project's #[wasm_bindgen_test] tests
# Programs the check's environment provides itself (the toolchain's bin dir, the exact CLIs, wasm-pack).
PROVIDED_PROGRAMS = ("cargo", "rustc", "rustdoc", "wasm-pack", "wasm-bindgen", "wasm-bindgen-test-runner")
_SCRIPT_SUFFIXES = (".mjs", ".cjs", ".js", ".ts", ".sh", ".py", ".rb", ".pl")


class CheckKind(StrEnum):
    SCRIPT = "script"  # `node SCRIPT` (a template's check.mjs, the default)
    COMMAND = "command"  # any command line, judged by git bisect's exit contract
    WASM_PACK_TEST = WASM_PACK_TEST  # `wasm-pack test --node` with the exactly matching test runner


@dataclass(frozen=True, kw_only=True)
class CheckSpec:
    """How a probe is checked. Every kind yields git bisect's exit code plus its output (for the signature)."""

    kind: CheckKind
    argv: tuple[str, ...] = ()  # COMMAND: the command line (split with shlex, never a shell)
    script: str | None = None  # SCRIPT: the script run by node, relative to the crate
    test: str | None = None  # WASM_PACK_TEST: one test target (`--test NAME`)
    timeout: float = 120.0
    timeout_verdict: TimeoutVerdict = TimeoutVerdict.ERROR
    failure_signature: str | None = None
    # Whether the signature also decides which build failures count with --build-failure bad: yes when it came
    # from --signature (or the config); a template's own failure_signature judges its check only.
    signature_judges_builds: bool = False

    def identity(self) -> str:
        """What stored verdicts are keyed on (with the reproducer's check files)."""
        return json.dumps({k: (str(v) if isinstance(v, StrEnum) else v) for k, v in asdict(self).items()},
                          sort_keys=True)

    def describe(self, runtime: Runtime | None = None) -> str:
        """How the check reads in a report: `node check.mjs`, `wasm-pack test` (in a runtime: `--node`, or
        `--headless --chrome|--firefox` in a browser), or the command line."""
        if self.kind is CheckKind.SCRIPT:
            return f"node {self.script}"
        if self.kind is CheckKind.WASM_PACK_TEST:
            where = {None: "", Runtime.NODE: " --node", Runtime.CHROMIUM: " --headless --chrome",
                     Runtime.FIREFOX: " --headless --firefox"}[runtime]
            return f"wasm-pack test{where}" + (f" --test {self.test}" if self.test else "")
        return shlex.join(self.argv)

    def flag_value(self) -> str:
        """The `--check` value that gives this check again."""
        return WASM_PACK_TEST if self.kind is CheckKind.WASM_PACK_TEST else shlex.join(self.argv)


def parse_check(text: str, what: str = "--check") -> tuple[CheckKind, tuple[str, ...]]:
    """`wasm-pack-test`, or a command line split like a shell would split it (no shell ever runs it)."""
    if "\0" in text:
        raise UsageError(f"{what} contains a NUL character")
    if text.strip() == WASM_PACK_TEST:
        return CheckKind.WASM_PACK_TEST, ()
    try:
        argv = tuple(shlex.split(text))
    except ValueError as exc:
        raise UsageError(f"{what} {text!r} is not a command line: {exc}",
                         hint="quote it like a shell would, e.g. --check \"node tests/check.mjs\"") from None
    if not argv:
        raise UsageError(f"{what} is empty", hint="e.g. --check \"node tests/check.mjs\" or --check wasm-pack-test")
    return CheckKind.COMMAND, argv


def _is_relative_path(arg: str) -> bool:
    return not arg.startswith("-") and ("/" in arg or arg.endswith(_SCRIPT_SUFFIXES)) and not Path(arg).is_absolute()


def require_program(argv: tuple[str, ...], *, cwd: Path | None, files: Mapping[str, bytes] | None = None,
                    where: str, search_path: str | None = None) -> None:
    """Refuse a check whose program (or script argument) does not exist, before anything is built.

    A program with a `/` is a file of the project (`cwd`, or the template's `files`); a bare name is looked up on
    PATH, except the programs the check's environment provides itself. An argument that names a script by a
    relative path must exist too: a missing script would exit 1, and that must never read as the bug.
    """
    program = argv[0]

    def exists(rel: str) -> bool:
        pure = PurePosixPath(rel)
        if pure.is_absolute():
            return Path(rel).is_file()
        if files is not None:
            return pure.as_posix() in files or any(f.startswith(pure.as_posix().rstrip("/") + "/") for f in files)
        return cwd is not None and (cwd / rel).exists()

    if "/" in program:
        if not exists(program.removeprefix("./")):
            raise UsageError(f"check command {program!r} does not exist in {where}",
                             hint="give a program on PATH or a file of the project, e.g. --check \"./check.sh\"")
    elif program not in PROVIDED_PROGRAMS and shutil.which(program, path=search_path) is None:
        raise UsageError(f"check command {program!r} is not on PATH", hint="install it or give its path")
    for arg in argv[1:]:
        if Path(arg).is_absolute() and arg.endswith(_SCRIPT_SUFFIXES) and not Path(arg).is_file():
            raise UsageError(f"the check's file {arg!r} does not exist")
        if _is_relative_path(arg) and not exists(arg.removeprefix("./")):
            raise UsageError(f"the check's file {arg!r} does not exist in {where}",
                             hint="paths in --check are taken from the --crate directory (a template's own "
                                  "directory for a template)")


@dataclass(frozen=True, kw_only=True)
class Materialised:
    """A variant's crate as written into the probe directory."""

    workspace: Path  # where Cargo.lock lives and the resolver runs
    package: Path  # what wasm-pack builds, and where the check runs
    artifact: str  # the lib name: pkg/<artifact>.js and target/wasm32-unknown-unknown/<profile>/<artifact>.wasm
    # "manifest": the variant's Cargo.toml pins wasm-bindgen, resolve afresh; "lockfile": the project's own lock
    # is moved to the variant's wasm-bindgen family by the resolver (cargo update --precise)
    pinning: Literal["manifest", "lockfile"] = "manifest"
    cargo_args: tuple[str, ...] = ()  # features, passed through wasm-pack to cargo
    tool_config_dir: Path | None = None  # where this tool's own .cargo/config.toml goes (default: `workspace`)
    evidence: Mapping[str, Any] = field(default_factory=dict)  # what writing it decided (e.g. webdriver.json)
    test_args: tuple[str, ...] = ()  # `wasm-pack test` targets when no --test NAME is given (default: cargo's)
    # Where a check command runs and its relative paths start: the copy of the directory the user named with
    # --crate (a template's crate directory by default).
    check_dir: Path | None = None
    relock: bool = False  # a project's lock is re-resolved for the cell's rustc before its family is pinned

    @property
    def check_cwd(self) -> Path:
        return self.check_dir or self.package

    @property
    def pkg_dir(self) -> Path:
        return self.package / "pkg"

    @property
    def pkg_module(self) -> Path:
        return self.pkg_dir / f"{self.artifact}.js"

    @property
    def pkg_wasm(self) -> Path:
        return self.pkg_dir / f"{self.artifact}_bg.wasm"


def write_files(dest: Path, files: Mapping[str, bytes]) -> None:
    """Replace `dest` with exactly `files` (relative POSIX path -> bytes)."""
    if dest.exists():
        shutil.rmtree(dest)
    for rel, data in files.items():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


class Reproducer(Protocol):
    """A template or the user's crate: everything the oracle needs to build and check one variant."""

    @property
    def name(self) -> str: ...

    @property
    def kind(self) -> str: ...  # "template" | "crate"

    @property
    def root(self) -> Path: ...

    @property
    def build_timeout(self) -> float: ...

    @property
    def content_hash(self) -> str: ...

    @property
    def check_hash(self) -> str: ...

    @property
    def check(self) -> CheckSpec: ...

    @property
    def project_rustflags(self) -> tuple[tuple[str, str], ...]: ...  # (flag, where it came from)

    @property
    def runtimes(self) -> tuple[Runtime, ...]: ...  # where its check can run, preferred first

    def check_runtime(self, runtime: Runtime) -> None: ...  # UsageError for a runtime it cannot check in

    def plan_skip(self, rustc_version: str) -> str | None: ...  # a cell it cannot build, known before building

    def notes(self, rustc_versions: Sequence[str]) -> list[str]: ...  # said once when a run starts

    def param_values(self, overrides: dict[str, str]) -> tuple[tuple[str, str], ...]: ...

    def command_args(self) -> tuple[str, ...]: ...

    def describe(self) -> dict[str, Any]: ...

    def snapshot(self, *, max_chars: int = 64_000) -> dict[str, Any]: ...

    def materialise(self, dest: Path, variant: Variant, *, rustc_version: str,
                    patches: Mapping[str, str] | None = None) -> Materialised: ...


MAX_TIMEOUT = 86400.0


def apply_overrides(base: CheckSpec, overrides: CheckOverrides) -> CheckSpec:
    """The reproducer's check with the flags' (or the config's) settings on top; each value checked once."""
    spec = base
    if overrides.check is not None:
        kind, argv = parse_check(overrides.check)
        spec = replace(spec, kind=kind, argv=argv, script=None if kind is not CheckKind.SCRIPT else spec.script)
    if overrides.test is not None:
        if spec.kind is not CheckKind.WASM_PACK_TEST:
            raise UsageError("--test NAME picks a test target of --check wasm-pack-test",
                             hint="add --check wasm-pack-test, or drop --test")
        if not overrides.test.strip() or overrides.test.startswith("-") or "\0" in overrides.test:
            raise UsageError(f"--test {overrides.test!r} is not a test target name", hint="e.g. --test node")
        spec = replace(spec, test=overrides.test.strip())
    if overrides.signature is not None:
        spec = replace(spec, failure_signature=check_signature(overrides.signature, "--signature"),
                       signature_judges_builds=True)
    if overrides.timeout is not None:
        if not 0 < overrides.timeout <= MAX_TIMEOUT:
            raise UsageError(f"--timeout {overrides.timeout:g} must be a number of seconds in (0, 86400]")
        spec = replace(spec, timeout=float(overrides.timeout))
    if overrides.timeout_verdict is not None:
        try:
            spec = replace(spec, timeout_verdict=TimeoutVerdict(overrides.timeout_verdict))
        except ValueError:
            raise UsageError(f"--timeout-verdict {overrides.timeout_verdict!r} must be error or bad") from None
    return spec


def run_config(reproducer: Reproducer) -> dict[str, Any]:
    """What a run records about its reproducer: where it is, what it is, how commands name it again, and a
    snapshot of its sources (so a report shows them as they were when the run started)."""
    return {"template_path": str(reproducer.root), "reproducer": reproducer.describe(),
            "reproducer_args": list(reproducer.command_args()), "template_snapshot": reproducer.snapshot()}
