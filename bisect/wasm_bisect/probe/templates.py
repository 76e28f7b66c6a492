"""Templates: a crate skeleton (Cargo.toml, src/) plus a check module and a manifest (template.toml).

`[check] runtimes` lists where the check can run (node, chromium, firefox; default node only): a check for a
browser is a module exporting `default async function check(pkg, params)` (see probe/runtimes).

Loading reads files only; it never follows a symlink or a path out of the template directory, so a template
cannot smuggle files from elsewhere into a variant crate.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import shutil
import stat
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

from wasm_bisect.domain.errors import TemplateError, UsageError, did_you_mean
from wasm_bisect.domain.model import Runtime, Variant
from wasm_bisect.domain.options import CheckOverrides, TimeoutVerdict
from wasm_bisect.domain.signature import signature_problem
from wasm_bisect.probe import fingerprint, render
from wasm_bisect.probe.reproducer import (
    CheckKind,
    CheckSpec,
    Materialised,
    apply_overrides,
    parse_check,
    require_program,
    write_files,
)
from wasm_bisect.probe.template_cargo import check_cargo_toml
from wasm_bisect.util import bounded, paths

MANIFEST = "template.toml"
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,63}$")
_PARAM = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_SKIP_DIRS = {"target", "pkg", "node_modules", ".git", ".cargo"}
_SKIP_FILES = {"Cargo.lock"}
MAX_FILES = 200
MAX_BYTES = 4 * 1024 * 1024
MAX_ENTRIES = 2000  # files and directories walked (skipped ones included): a huge tree is refused quickly
MAX_DEPTH = 32
MAX_MANIFEST_BYTES = 256 * 1024
MAX_PARAMS = 64
# The manifest's tables and keys: anything else is a typo or a misunderstanding, refused with "did you mean".
_MANIFEST_KEYS = ("name", "description", "issue", "page", "check", "build", "params", "expect")
_CHECK_KEYS = ("script", "timeout", "failure_signature", "runtimes", "command", "test", "timeout_verdict")
_BUILD_KEYS = ("timeout", "rustflags")
_PARAM_KEYS = ("default", "description")
_EXPECT_KEYS = ("good", "bad")
DEFAULT_TIMEOUT = 120.0
DEFAULT_BUILD_TIMEOUT = 1800.0
# rustup reads these in the crate directory and would override the grid's rustc for the host cargo.
_FORBIDDEN_FILES = ("rust-toolchain", "rust-toolchain.toml")


@dataclass(frozen=True, kw_only=True)
class Param:
    name: str
    default: str
    description: str = ""


@dataclass(frozen=True, kw_only=True)
class Template:
    name: str
    description: str
    root: Path
    check_script: str
    timeout: float
    failure_signature: str | None
    params: dict[str, Param]
    expect: dict[str, str]
    issue: str | None
    files: dict[str, bytes] = field(repr=False)  # relative POSIX path -> content (crate + check)
    build_timeout: float = DEFAULT_BUILD_TIMEOUT  # [build] timeout: wasm-pack (cargo, build scripts, bindgen)
    runtimes: tuple[Runtime, ...] = (Runtime.NODE,)  # [check] runtimes: where the check can run, preferred first
    # [check] command (instead of `node SCRIPT`), test and timeout_verdict; [build] rustflags
    check_command: str | None = None
    check_test: str | None = None
    timeout_verdict: TimeoutVerdict = TimeoutVerdict.ERROR
    rustflags: tuple[str, ...] = ()
    check_override: CheckSpec | None = None  # the check as flags or the config changed it
    kind: str = "template"
    page: str | None = None  # `page`: an HTML page for a person (--prompt, `serve`), next to the pkg/ it loads

    @property
    def check(self) -> CheckSpec:
        """The check: `node check.mjs` by default, or `[check] command`; flags may override it."""
        if self.check_override is not None:
            return self.check_override
        if self.check_command is None:
            return CheckSpec(kind=CheckKind.SCRIPT, script=self.check_script, timeout=self.timeout,
                             failure_signature=self.failure_signature, timeout_verdict=self.timeout_verdict)
        kind, argv = parse_check(self.check_command, "check.command")
        return CheckSpec(kind=kind, argv=argv, test=self.check_test, timeout=self.timeout,
                         failure_signature=self.failure_signature, timeout_verdict=self.timeout_verdict)

    def _check_files(self) -> dict[str, bytes]:
        spec = self.check
        named = [spec.script] if spec.kind is CheckKind.SCRIPT and spec.script else []
        named += [a.removeprefix("./") for a in spec.argv]
        return {p: self.files[p] for p in named if p in self.files}

    def check_runtime(self, runtime: Runtime) -> None:
        """Refuse a runtime the template does not list (bad input: exit 2, before anything is built)."""
        if runtime not in self.runtimes:
            raise UsageError(f"template {self.name} does not run in {runtime}",
                             hint=f"its check runs in {', '.join(self.runtimes)} ([check] runtimes in template.toml)")
        if runtime.is_browser and self.check.kind is not CheckKind.SCRIPT:
            raise UsageError(f"the check of template {self.name} is a command ({self.check.describe()}), which "
                             f"runs as it is, not in {runtime}", hint="a browser runs a check module (check.mjs)")

    def snapshot(self, *, max_chars: int = 64_000) -> dict[str, Any]:
        """What a run keeps of its reproducer, so a report shows the sources as they were when it ran."""
        files: dict[str, str] = {}
        for rel in sorted(self.files):
            text = self.files[rel].decode("utf-8", errors="replace")
            files[rel] = text if len(text) <= max_chars else text[:max_chars] + "\n... (truncated)\n"
        return {"name": self.name, "description": self.description, "issue": self.issue, "root": str(self.root),
                "ref": self.name if is_builtin(self) else str(self.root),
                "check_script": self.check_script, "params": {p.name: p.default for p in self.params.values()},
                "check": self.check.describe(), "check_kind": str(self.check.kind),
                "pkg_module": f"pkg/{self.artifact()}.js",
                "content_hash": self.content_hash, "check_hash": self.check_hash, "files": files}

    @property
    def content_hash(self) -> str:
        """Hash of the crate files (not the check): a changed lib.rs invalidates stored verdicts."""
        crate = {p: c for p, c in self.files.items() if p not in self._check_files()}
        if self.rustflags:  # flags change what is built
            crate["<rustflags>"] = "\0".join(self.rustflags).encode()
        return _digest(crate)

    @property
    def check_hash(self) -> str:
        """Hash of the check script, the check settings and the tool's own verdict-deciding code."""
        spec = self.check
        extra = "" if spec.kind is CheckKind.SCRIPT and spec.timeout_verdict is TimeoutVerdict.ERROR \
            and not spec.signature_judges_builds else f"|{spec.identity()}"
        settings = f"{spec.timeout}|{spec.failure_signature}|{fingerprint.engine()}{extra}".encode()
        return _digest({**self._check_files(), "<settings>": settings})

    def with_check(self, overrides: CheckOverrides) -> Template:
        """This template with the check settings of flags or the config on top."""
        if not overrides.any():
            return self
        return replace(self, check_override=apply_overrides(self.check, overrides))

    def require_check(self) -> None:
        """A check command must exist (on PATH or among the template's files); raises UsageError."""
        spec = self.check
        if spec.kind is CheckKind.COMMAND:
            require_program(spec.argv, cwd=None, files=self.files, where=f"template {self.name}")
        elif spec.kind is CheckKind.WASM_PACK_TEST and not self._has_test_dependency():
            raise UsageError(f"--check wasm-pack-test: template {self.name} has no wasm-bindgen-test "
                             "dev-dependency, so it has no tests to run",
                             hint='add wasm-bindgen-test = "0.3" under [dev-dependencies] and tests/*.rs')

    def _has_test_dependency(self) -> bool:
        try:
            manifest = tomllib.loads(self.files["Cargo.toml"].decode())
        except (KeyError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            return False
        tables = [manifest.get(t) for t in ("dev-dependencies", "dev_dependencies")]
        targets = manifest.get("target")
        if isinstance(targets, dict):
            tables += [t.get("dev-dependencies") for t in targets.values() if isinstance(t, dict)]
        return any(isinstance(t, dict) and "wasm-bindgen-test" in t for t in tables)

    def command_args(self) -> tuple[str, ...]:
        """How commands name this template: a built-in by its name, any other by its directory."""
        args = ["--template", self.name if is_builtin(self) else str(self.root)]
        if self.check_override is not None:
            spec = self.check_override
            if spec.kind is not CheckKind.SCRIPT:
                args += ["--check", spec.flag_value()]
            if spec.test:
                args += ["--test", spec.test]
            if spec.failure_signature != self.failure_signature:
                args += ["--signature", spec.failure_signature or ""]
            if spec.timeout != self.timeout:
                args += ["--timeout", f"{spec.timeout:g}"]
            if spec.timeout_verdict is not TimeoutVerdict.ERROR:
                args += ["--timeout-verdict", str(spec.timeout_verdict)]
        return tuple(args)

    def describe(self) -> dict[str, Any]:
        return {"kind": "template", "name": self.name, "root": str(self.root), "check": self.check.describe()}

    def artifact(self) -> str:
        """The lib name wasm-pack names its output after: [lib] name, else the probe crate's own name."""
        try:
            lib = tomllib.loads(self.files["Cargo.toml"].decode()).get("lib", {})
        except (tomllib.TOMLDecodeError, UnicodeDecodeError):
            lib = {}
        name = lib.get("name") if isinstance(lib, dict) else None
        return (name if isinstance(name, str) else "wasm-bisect-probe").replace("-", "_")

    def plan_skip(self, rustc_version: str) -> str | None:
        """A template's crate is resolved afresh for each cell: nothing is known to fail before building."""
        del rustc_version
        return None

    def notes(self, rustc_versions: Sequence[str]) -> list[str]:
        del rustc_versions
        return []

    def materialise(self, dest: Path, variant: Variant, *, rustc_version: str,
                    patches: Mapping[str, str] | None = None) -> Materialised:
        """Render the variant crate (its Cargo.toml pins the variant's wasm-bindgen) into `dest`."""
        write_files(dest, render.render(self, variant, rustc_version=rustc_version, patches=patches))
        return Materialised(workspace=dest, package=dest, artifact=self.artifact(), pinning="manifest")

    @property
    def project_rustflags(self) -> tuple[tuple[str, str], ...]:
        return tuple((f, "template.toml build.rustflags") for f in self.rustflags)

    def param_values(self, overrides: dict[str, str]) -> tuple[tuple[str, str], ...]:
        unknown = sorted(set(overrides) - set(self.params))
        if unknown:
            raise UsageError(
                f"template {self.name} has no parameter {unknown[0]!r}",
                hint=f"its parameters: {', '.join(sorted(self.params)) or 'none'}",
            )
        values = tuple(sorted((n, overrides.get(n, p.default)) for n, p in self.params.items()))
        for pname, value in values:
            if "\0" in value:  # parameters reach the check as environment variables, which cannot hold NUL
                raise UsageError(f"parameter {pname} of template {self.name} contains a NUL character")
        return values


def _digest(files: dict[str, bytes]) -> str:
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return h.hexdigest()[:16]


def builtin_names() -> list[str]:
    """Names of the built-in templates; an installation without any is broken, and says so."""
    root = paths.builtin_templates_dir()
    names = sorted(p.name for p in root.iterdir() if (p / MANIFEST).is_file())
    if not names:
        raise TemplateError(f"no built-in templates in {root}", hint="reinstall wasm-bisect")
    return names


def is_builtin(template: Template) -> bool:
    """True for a template loaded by name from the built-in set (commands can then name it by its name)."""
    try:
        builtin = paths.resolve(paths.builtin_templates_dir())
        return template.root.parent == builtin and template.name == template.root.name
    except TemplateError:
        return False


def locate(name_or_path: str) -> Path:
    """A built-in template name, or a directory holding a template.toml."""
    if _NAME.fullmatch(name_or_path) and name_or_path in builtin_names():
        return paths.resolve(paths.builtin_templates_dir() / name_or_path)
    candidate = paths.expand(name_or_path)
    if candidate.is_dir():
        return paths.resolve(candidate, "the template")
    raise TemplateError(
        f"unknown template {name_or_path!r}",
        hint=f"built-in templates: {', '.join(builtin_names())}; or give a template directory",
    )


def _safe_relpath(text: str, what: str) -> str:
    pure = PurePosixPath(text)
    if not text or pure.is_absolute() or ".." in pure.parts or "\\" in text:
        raise TemplateError(f"{what} {text!r} must be a relative path inside the template")
    return pure.as_posix()


def _collect(root: Path) -> dict[str, bytes]:
    """The template's files, each size checked with stat (lstat: a symlink is refused, not followed) before it
    is read, so a huge or special file is refused without being read or opened."""
    files: dict[str, bytes] = {}
    total = 0
    seen = 0
    stack = [(root, 0)]
    too_large = TemplateError(f"template {root} is too large",
                              hint=f"at most {MAX_FILES} files, 4 MiB, {MAX_ENTRIES} entries, {MAX_DEPTH} levels")
    while stack:
        directory, level = stack.pop()
        for entry in sorted(directory.iterdir()):
            seen += 1
            if seen > MAX_ENTRIES:
                raise too_large
            rel = entry.relative_to(root).as_posix()
            info = entry.lstat()
            if stat.S_ISLNK(info.st_mode):
                raise TemplateError(f"template file {rel} is a symlink", hint="templates may hold only plain files")
            if stat.S_ISDIR(info.st_mode):
                if entry.name not in _SKIP_DIRS:
                    if level + 1 > MAX_DEPTH:
                        raise too_large
                    stack.append((entry, level + 1))
                continue
            if not stat.S_ISREG(info.st_mode) or entry.name in _SKIP_FILES:
                continue
            total += info.st_size
            if len(files) + 1 > MAX_FILES or total > MAX_BYTES:
                raise too_large
            files[rel] = bounded.read_bytes(entry, limit=MAX_BYTES - (total - info.st_size),
                                            what="template file", error=TemplateError)
    return files


def _str(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise TemplateError(f"{what} must be a string, not {type(value).__name__}")
    return value


def _strict(table: Any, known: tuple[str, ...], where: str, name: str) -> dict[str, Any]:
    """A manifest table with only `known` keys; an unknown one is refused with a "did you mean" hint."""
    if not isinstance(table, dict):
        raise TemplateError(f"{where} of template {name} must be a table")
    for key in table:
        if key not in known:
            raise TemplateError(f"unknown key {key!r} in {where} of template {name}", hint=did_you_mean(key, known))
    return table


def _seconds(value: Any, what: str, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 86400:
        raise TemplateError(f"{what} of template {name} must be a number of seconds in (0, 86400]")
    return float(value)


def load(name_or_path: str) -> Template:
    root = locate(name_or_path)
    manifest_path = root / MANIFEST
    if manifest_path.is_symlink() or not manifest_path.is_file():
        raise TemplateError(f"{root} has no {MANIFEST}", hint="create one with `wasm-bisect templates init`")
    text = bounded.read_text(manifest_path, limit=MAX_MANIFEST_BYTES, what="template manifest", error=TemplateError)
    manifest = bounded.toml_loads(text, what=str(manifest_path), error=TemplateError)
    return parse_manifest(manifest, root=root, files=_collect(root))


def parse_manifest(manifest: dict[str, Any], *, root: Path, files: dict[str, bytes]) -> Template:
    """Validate a manifest against the template's files (pure: no file access). Strict: unknown keys and
    values of the wrong type are refused, never guessed at or turned into strings."""
    name = manifest.get("name", root.name)
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise TemplateError(f"template name {name!r} must be lower-case letters, digits and '-'")
    _strict(manifest, _MANIFEST_KEYS, "template.toml", name)
    check = _strict(manifest.get("check", {}), _CHECK_KEYS, "[check]", name)
    script = _safe_relpath(_str(check.get("script", "check.mjs"), "check.script"), "check.script")
    command = check.get("command")
    if command is not None:
        try:
            parse_check(_str(command, "check.command"), "check.command")
        except UsageError as exc:
            raise TemplateError(f"template {name}: {exc.message}") from None
    if script not in files and (command is None or "script" in check):
        raise TemplateError(f"template {name} has no check script {script}", hint="add a check.mjs")
    test = check.get("test")
    if test is not None and (not isinstance(test, str) or not test or test.startswith("-")):
        raise TemplateError(f"check.test of template {name} must be a test target name")
    timeout_verdict = check.get("timeout_verdict", "error")
    if timeout_verdict not in ("error", "bad"):
        raise TemplateError(f"check.timeout_verdict of template {name} must be error or bad")
    for required in ("Cargo.toml", "src/lib.rs"):
        if required not in files:
            raise TemplateError(f"template {name} has no {required}")
    forbidden = [f for f in _FORBIDDEN_FILES if f in files]
    if forbidden:
        raise TemplateError(f"template {name} has a {forbidden[0]}", hint="the grid decides rustc; remove it")
    check_cargo_toml(name, files["Cargo.toml"])
    timeout = _seconds(check.get("timeout", DEFAULT_TIMEOUT), "check.timeout", name)
    build_section = _strict(manifest.get("build", {}), _BUILD_KEYS, "[build]", name)
    build_timeout = _seconds(build_section.get("timeout", DEFAULT_BUILD_TIMEOUT), "build.timeout", name)
    runtimes = _runtimes(name, check.get("runtimes", ["node"]))
    flags = build_section.get("rustflags", [])
    if isinstance(flags, str):
        flags = flags.split()
    if not isinstance(flags, list) or not all(isinstance(f, str) and f and "\0" not in f for f in flags):
        raise TemplateError(f"build.rustflags of template {name} must be a list of flags")
    signature = check.get("failure_signature")
    if signature is not None:
        problem = signature_problem(_str(signature, "check.failure_signature"))
        if problem is not None:
            raise TemplateError(f"check.failure_signature of template {name} {problem}")
    params: dict[str, Param] = {}
    raw_params = manifest.get("params", {})
    if not isinstance(raw_params, dict):
        raise TemplateError(f"[params] of template {name} must be a table")
    if len(raw_params) > MAX_PARAMS:
        raise TemplateError(f"template {name} has {len(raw_params)} parameters (at most {MAX_PARAMS})")
    for pname, spec in raw_params.items():
        if not _PARAM.fullmatch(pname) or not isinstance(spec, dict):
            raise TemplateError(f"template parameter {pname!r} must be a [params.NAME] table with a lower-case name")
        _strict(spec, _PARAM_KEYS, f"[params.{pname}]", name)
        default = spec.get("default", "")
        if isinstance(default, bool) or not isinstance(default, str | int | float):
            raise TemplateError(f"params.{pname}.default of template {name} must be a string or a number, "
                                f"not {type(default).__name__}")
        description = _str(spec.get("description", ""), f"params.{pname}.description of template {name}")
        params[pname] = Param(name=pname, default=str(default), description=description)
    expect = _strict(manifest.get("expect", {}), _EXPECT_KEYS, "[expect]", name)
    issue = manifest.get("issue")
    page = manifest.get("page")
    if page is not None:
        page = _safe_relpath(_str(page, f"page of template {name}"), "page")
        if page not in files:
            raise TemplateError(f"template {name} has no page {page}", hint="add it, or remove the page key")
    return Template(
        name=name,
        description=_str(manifest.get("description", ""), f"description of template {name}"),
        root=root,
        check_script=script,
        timeout=timeout,
        failure_signature=signature,
        params=params,
        expect={k: _str(v, f"expect.{k} of template {name}") for k, v in expect.items()},
        issue=_str(issue, f"issue of template {name}") if issue is not None else None,
        files=files,
        build_timeout=build_timeout,
        runtimes=runtimes,
        check_command=str(command) if command is not None else None,
        check_test=test,
        timeout_verdict=TimeoutVerdict(timeout_verdict),
        rustflags=tuple(flags),
        page=page,
    )


def _runtimes(name: str, value: Any) -> tuple[Runtime, ...]:
    choices = ", ".join(r.value for r in Runtime)
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise TemplateError(f"check.runtimes of template {name} must be a non-empty list of {choices}")
    out: list[Runtime] = []
    for item in value:
        try:
            runtime = Runtime(item.strip().lower())
        except ValueError:
            raise TemplateError(f"check.runtimes of template {name} lists {item!r}, not one of {choices}") from None
        if runtime not in out:
            out.append(runtime)
    return tuple(out)


def init(name: str, dest: Path) -> Path:
    """Copy template `name` to `dest` (which must not exist) for the user to edit."""
    template = load(name)
    return write_new(dest, template.files)


def _hard_for_toml(text: str) -> bool:
    return "\\x" in text or any(ord(c) < 0x20 or ord(c) == 0x7F for c in text)


def write_made(dest: Path, files: Mapping[str, bytes], *, check: Mapping[str, object]) -> Path:
    """Write a template made elsewhere (`templates init --from-crate`) into the new directory `dest`, once its
    template.toml is proven to be a valid manifest that keeps the `check` values exactly (the `toml` writer
    mangles backslash-x and control characters: a signature like `\\x5bpanic\\x5d` must not become another
    regex, or an unreadable file)."""
    dest = paths.expand(dest)
    if dest.exists() or dest.is_symlink():
        raise UsageError(f"{dest} already exists", hint="choose a new directory; nothing was written")
    try:
        doc: dict[str, Any] | None = tomllib.loads(files[MANIFEST].decode())
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        doc = None
    table = doc.get("check", {}) if doc is not None else {}
    lost = [key for key, value in check.items() if value is not None and table.get(key) != value]
    if doc is None or lost:
        odd = [key for key, value in check.items() if isinstance(value, str) and _hard_for_toml(value)]
        raise UsageError(f"check {' and '.join(odd or lost) or 'values'} cannot be written into template.toml "
                         "exactly (a backslash-x or a control character)",
                         hint="write the characters themselves; nothing was written")
    parse_manifest(doc, root=dest, files=dict(files))
    return write_new(dest, files)


def write_new(dest: Path, files: Mapping[str, bytes]) -> Path:
    """Write `files` into the new directory `dest` (`~` expanded; it must not exist): the one writer of a new
    template directory (`templates init`, with or without --from-crate). Built in a staging directory this call
    creates exclusively (a leftover `.NAME.partial` is refused, never removed) and renamed into place; on a
    failure only what this call created is removed."""
    dest = paths.expand(dest)
    if dest.exists() or dest.is_symlink():
        raise UsageError(f"{dest} already exists", hint="choose a new directory; nothing was written")
    staging = dest.with_name(f".{dest.name}.partial")
    created: list[Path] = []  # directories this call made, innermost last
    try:
        missing = [p for p in reversed(dest.parents) if not p.exists()]
        for parent in missing:
            parent.mkdir()
            created.append(parent)
        try:
            staging.mkdir()
        except FileExistsError:
            raise UsageError(f"{staging} already exists (left by an interrupted `templates init`?)",
                             hint="look inside and remove it yourself; nothing was written") from None
        created.append(staging)
        for rel, data in files.items():
            target = staging / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        staging.rename(dest)
        created.remove(staging)
    except OSError as exc:
        _remove_created(created)
        raise UsageError(f"cannot write {dest}: {exc.strerror}") from exc
    except BaseException:
        _remove_created(created)
        raise
    return dest


def _remove_created(created: list[Path]) -> None:
    """Undo a failed init: the staging directory (all ours) and the parents this call made, if still empty."""
    for path in reversed(created):
        if path.name.endswith(".partial"):
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                path.rmdir()
