"""wasm-bindgen sources beyond crates.io: git revisions and local checkouts, turned into patches plus a matching CLI.

Text forms (`parse`): `0.2.100` (a crates.io release), `git+URL[@REV]` (REV: branch, tag, commit or `pull/N/head`;
default: the remote's HEAD) and a local directory (`path:DIR`, or any existing directory).

Git goes through gitpython with its unsafe-protocol and unsafe-option checks left on, plus a protocol allow-list in
git's own environment (`GIT_ALLOW_PROTOCOL`), so neither a user string nor a `url.insteadOf` rewrite can reach the
`ext::` transport; user strings never reach a shell. Per URL there is one bare mirror under
`paths.home()/git/<hash>`, created in a staging directory and renamed into place (a failed clone leaves nothing),
fetched at most once per process; each resolved commit gets one worktree under it.

The crates of a checkout come from its own manifests (`cargo metadata --no-deps`): every published wasm-bindgen
crate with a library (`wasm-bindgen*`, `js-sys`, `web-sys`) is patched into the variant (`[patch.crates-io]`; unused
entries are harmless), and the CLI is the package with a `wasm-bindgen` bin, built from the same checkout and cached
by commit id (by content hash for a local directory), so crate and CLI always match.

Identity of a source in a Variant (BindgenSource): `version` stays the checkout's wasm-bindgen crate version
(the `=X` pin of the variant crate and the Cargo.lock check need it); `rev` holds the resolved commit id for git
(`tree-<hash>` of the contents for a directory), so the Variant key, and with it the store, changes per commit and
two spellings of one commit (a tag and its id) share their results. The revision the user typed is kept in
`Resolved.requested` for reports.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import re
import shutil
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from wasm_bisect.bindgen.toolcache import (
    CachedTool,
    bindgen_cli_from_checkout,
    bindgen_test_runner_from_checkout,
    host_build_env,
)
from wasm_bisect.domain.errors import CommandFailed, ProvisionError, Untestable, UsageError, WasmBisectError
from wasm_bisect.domain.model import BindgenSource
from wasm_bisect.util import fs, paths, processes

Progress = Callable[[str], None]
SAFE_SCHEMES = ("https", "http", "ssh", "git", "file")
# Git's own allow-list, for every git command we start: anything else (ext, fd, custom helpers) is refused by git.
GIT_ENV = {
    "GIT_ALLOW_PROTOCOL": ":".join(SAFE_SCHEMES),
    "GIT_TERMINAL_PROMPT": "0",  # a private or missing repository fails instead of waiting for a password
    "GIT_SSH_COMMAND": "ssh -o BatchMode=yes",
}
GIT_TIMEOUT = 1800.0
PATCHED_EXTRA = ("js-sys", "web-sys")
CLI_BIN = "wasm-bindgen"
_VERSION = re.compile(r"^=?[0-9]+\.[0-9]+\.[0-9]+(?:-[0-9A-Za-z.-]+)?$")
_HELPER = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*::")  # git's `<transport>::<address>` remote-helper syntax
_REV = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._/+~^-]*$")  # names, ids, pull/N/head, HEAD~2, v1^
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_SKIP_DIRS = frozenset({".git", "target", "node_modules"})

_fetched: set[str] = set()  # URLs fetched by this process: "fetched once per run"


# -- parsing (pure) ----------------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class SourceSpec:
    """A wasm-bindgen source as the user wrote it, validated but not resolved."""

    kind: Literal["crates", "git", "path"]
    text: str
    version: str | None = None  # crates
    url: str | None = None  # git
    rev: str | None = None  # git: what the user asked for (None: the remote's HEAD)
    path: Path | None = None  # path


def _refuse_option_like(value: str, what: str) -> None:
    if value.startswith("-"):
        raise UsageError(f"refusing {what} {value!r}: it starts with '-' and would read as an option")


def _refuse_control(value: str, what: str) -> None:
    if any(ord(c) < 32 or c.isspace() or ord(c) == 127 for c in value):
        raise UsageError(f"refusing {what} {value!r}: it contains whitespace or control characters")


def check_url(url: str) -> str:
    """A git URL we are willing to hand to git: a plain scheme from SAFE_SCHEMES, no helper, nothing option-like."""
    _refuse_option_like(url, "git URL")
    if _HELPER.match(url) or "::" in url.split("/", 1)[0]:
        raise UsageError(f"refusing git URL {url!r}: `<transport>::` remote helpers (like ext::) can run commands",
                         hint=f"use one of {', '.join(s + '://' for s in SAFE_SCHEMES)}")
    _refuse_control(url, "git URL")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in SAFE_SCHEMES:
        raise UsageError(f"refusing git URL {url!r}: scheme {parts.scheme or '(none)'!r} is not allowed",
                         hint=f"use one of {', '.join(s + '://' for s in SAFE_SCHEMES)}")
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise UsageError(f"file URL {url!r} must be absolute: file:///path/to/repo")
    elif not parts.hostname or parts.hostname.startswith("-"):
        raise UsageError(f"git URL {url!r} has no usable host name")
    return url


def check_rev(rev: str) -> str:
    """A revision name git will take as a revision, never as an option or a range."""
    _refuse_option_like(rev, "revision")
    _refuse_control(rev, "revision")
    if not _REV.match(rev) or ".." in rev or "//" in rev or rev.endswith(("/", ".lock", ".")) or "@{" in rev:
        raise UsageError(f"revision {rev!r} is not a branch, tag, commit id, pull/N/head or NAME~N",
                         hint="e.g. main, 0.2.100, pull/4353/head or a commit id")
    return rev


def _split_rev(rest: str) -> tuple[str, str | None]:
    """`https://host/o/r@main` -> (URL, 'main'); the separator is the last '@' after the host part."""
    scheme_end = rest.find("://")
    path_start = rest.find("/", scheme_end + 3) if scheme_end >= 0 else 0
    at = rest.rfind("@")
    if path_start < 0 or at < path_start:
        return rest, None
    return rest[:at], rest[at + 1:]


def parse(text: str, *, cwd: Path | None = None) -> SourceSpec:
    """`0.2.100` | `git+URL[@REV]` | `path:DIR` | an existing directory -> SourceSpec (raises UsageError)."""
    raw = text.strip()
    if not raw:
        raise UsageError("empty wasm-bindgen source", hint="give a version, git+URL@REV or a directory")
    _refuse_option_like(raw, "wasm-bindgen source")
    if raw.startswith("git+"):
        url, rev = _split_rev(raw[4:])
        if rev is not None and not rev:
            raise UsageError(f"{raw!r} ends with '@' but names no revision", hint="e.g. git+URL@main")
        return SourceSpec(kind="git", text=raw, url=check_url(url), rev=check_rev(rev) if rev else None)
    if raw.startswith("path:"):
        return SourceSpec(kind="path", text=raw, path=_directory(raw[5:], cwd))
    if _VERSION.match(raw):
        return SourceSpec(kind="crates", text=raw, version=raw.lstrip("="))
    if "::" in raw or "://" in raw:
        check_url(raw)  # a dangerous transport gets its own refusal rather than "not a directory"
        raise UsageError(f"{raw!r} looks like a git URL", hint=f"write git+{raw}@REV")
    return SourceSpec(kind="path", text=raw, path=_directory(raw, cwd))


def _directory(text: str, cwd: Path | None, *, expected: str = "a version, git+URL@REV or an existing directory",
               hint: str = "e.g. 0.2.100, git+https://github.com/wasm-bindgen/wasm-bindgen@main or ../wasm-bindgen",
               ) -> Path:
    if "\0" in text or "\n" in text:
        raise UsageError(f"refusing path {text!r}: it contains control characters")
    path = paths.expand(text)
    if not path.is_absolute():
        path = (cwd or Path.cwd()) / path
    if not path.is_dir():
        raise UsageError(f"{text!r} is not {expected}", hint=hint)
    return paths.resolve(path)


def repo_url(text: str, *, cwd: Path | None = None) -> str:
    """`--bindgen-repo`: a git URL (with or without `git+`) or a local repository directory -> a checked URL."""
    raw = text.strip()
    _refuse_option_like(raw, "repository")
    raw = raw.removeprefix("git+")
    if "://" in raw or "::" in raw:
        return check_url(raw)
    return _directory(raw, cwd, expected="a git URL or an existing directory",
                      hint="e.g. https://github.com/wasm-bindgen/wasm-bindgen or ../wasm-bindgen").as_uri()


# -- checkouts: crates and CLI (cargo metadata) ------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class Crates:
    """What a checkout provides, read from its own manifests."""

    version: str  # of the wasm-bindgen crate
    patches: dict[str, str]  # crate name -> package directory, for [patch.crates-io]
    cli_crate: Path  # package directory of the crate whose bins include `wasm-bindgen`
    workspace_root: Path


_crates_cache: dict[Path, Crates] = {}  # per process: cargo metadata once per checkout


def _is_patchable(pkg: dict[str, Any]) -> bool:
    name = str(pkg.get("name", ""))
    if not (name == "wasm-bindgen" or name.startswith("wasm-bindgen-") or name in PATCHED_EXTRA):
        return False
    if pkg.get("publish") == []:  # `publish = false`: examples and test crates, never on crates.io
        return False
    kinds = {k for t in pkg.get("targets", []) for k in t.get("kind", [])}
    return bool(kinds & {"lib", "rlib", "proc-macro", "cdylib", "dylib", "staticlib"})


def crates_from_metadata(metadata: dict[str, Any], where: str) -> Crates:
    """Pure: `cargo metadata --no-deps` JSON -> Crates (raises UsageError when it is not wasm-bindgen)."""
    packages: list[dict[str, Any]] = list(metadata.get("packages", []))
    lib = next((p for p in packages if p.get("name") == "wasm-bindgen"), None)
    cli = next((p for p in packages if any(t.get("name") == CLI_BIN and "bin" in t.get("kind", [])
                                          for t in p.get("targets", []))), None)
    if lib is None or cli is None:
        missing = ("neither the wasm-bindgen crate nor" if lib is None and cli is None
                   else "no wasm-bindgen crate, only" if lib is None else "the wasm-bindgen crate but not")
        raise UsageError(f"{where} is not a wasm-bindgen checkout: its workspace has {missing} a package with "
                         f"a `{CLI_BIN}` binary", hint="point at the root of a wasm-bindgen repository")
    patches = {str(p["name"]): str(Path(p["manifest_path"]).parent) for p in packages if _is_patchable(p)}
    return Crates(version=str(lib["version"]), patches=patches, cli_crate=Path(cli["manifest_path"]).parent,
                  workspace_root=Path(str(metadata.get("workspace_root", Path(lib["manifest_path"]).parent))))


def _metadata_json(output: str) -> dict[str, Any]:
    # processes.run merges stderr (cargo's warnings) into the output; the JSON document is the one line that parses.
    for line in reversed(output.splitlines()):
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                data = json.loads(line)
                if isinstance(data, dict):
                    return data
    raise ValueError("no JSON document in cargo metadata's output")


def discover(checkout: Path, *, where: str | None = None) -> Crates:
    """The crates and CLI of a checkout, from its own manifests (cached per process)."""
    checkout = paths.resolve(checkout, "--patch")
    if checkout in _crates_cache:
        return _crates_cache[checkout]
    label = where or str(checkout)
    if not (checkout / "Cargo.toml").is_file():
        raise UsageError(f"{label} is not a wasm-bindgen checkout: it has no Cargo.toml",
                         hint="point at the root of a wasm-bindgen repository")
    env = host_build_env()
    env.pop("CARGO_TARGET_DIR", None)
    result = processes.run(["cargo", "metadata", "--no-deps", "--offline", "--format-version", "1",
                        "--manifest-path", checkout / "Cargo.toml"], env=env, timeout=300, check=False)
    if not result.ok:
        first = next((ln.strip() for ln in result.output.splitlines() if ln.strip().startswith("error")),
                     result.output.strip()[-200:])
        raise UsageError(f"cannot read the manifests of {label}: {first}",
                         hint="is it a Rust workspace (wasm-bindgen's repository root)?")
    try:
        crates = crates_from_metadata(_metadata_json(result.output), label)
    except ValueError as exc:
        raise UsageError(f"cannot read the manifests of {label}: {exc}") from exc
    _crates_cache[checkout] = crates
    return crates


def content_hash(root: Path) -> str:
    """Fingerprint of a directory's files (not .git, target, node_modules): a local checkout's identity."""
    digest = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if path.is_symlink() or not path.is_file():
                continue
            digest.update(path.relative_to(root).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


# -- git: mirror, fetch, revisions, worktrees --------------------------------------------------------------
def _git() -> Any:
    import git  # gitpython: imported here so crates-only runs never pay for it

    return git


@functools.cache
def _policy_classes() -> tuple[Any, Any]:
    """GitPython's command wrapper and Repo, with every git command started by util.processes: echoed under -v,
    time-limited, killed with its process group, cancelled on Ctrl-C, like every other program the tool runs."""
    git = _git()

    class PolicyGit(git.Git):  # type: ignore[misc,name-defined]
        def execute(self, command: Any, *, with_extended_output: bool = False, with_exceptions: bool = True,
                    kill_after_timeout: float | None = None, strip_newline_in_stdout: bool = True,
                    **kwargs: Any) -> Any:
            streaming = kwargs.get("as_process") or kwargs.get("istream") is not None or kwargs.get("output_stream")
            if streaming:  # persistent cat-file, progress streams: nothing here uses them
                raise NotImplementedError(f"git {command[1] if len(command) > 1 else ''}: streaming calls are "
                                          "not routed through the process policy")
            env = {**os.environ, **(self._environment or {}), **(kwargs.get("env") or {}), **GIT_ENV}
            cwd = Path(self._working_dir) if self._working_dir else Path.cwd()
            result = processes.run(list(command), env=env, cwd=cwd,
                                   timeout=kill_after_timeout or GIT_TIMEOUT, check=False, stderr_apart=True)
            stdout = result.output + ("\n" if result.output and not strip_newline_in_stdout else "")
            status = -9 if result.timed_out else result.returncode
            if with_exceptions and status != 0:
                raise git.GitCommandError(list(command), status, result.stderr
                                          or ("timed out" if result.timed_out else ""), stdout)
            return (status, stdout, result.stderr) if with_extended_output else stdout

    class PolicyRepo(git.Repo):  # type: ignore[misc,name-defined]
        GitCommandWrapperType = PolicyGit

    return PolicyGit, PolicyRepo


def _repo(path: Path) -> Any:
    """A GitPython Repo whose git commands run under the process policy, with git's protocol allow-list."""
    repo = _policy_classes()[1](path)
    repo.git.update_environment(**GIT_ENV)
    return repo


def _git_cmd(path: Path) -> Any:
    """GitPython's `git` command wrapper for `path` (which need not be a repository yet), under the policy."""
    cmd = _policy_classes()[0](str(path))
    cmd.update_environment(**GIT_ENV)
    return cmd


def url_hash(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()[:16]


def git_root() -> Path:
    return paths.home() / "git"


@dataclass(frozen=True)
class Mirror:
    url: str
    root: Path  # paths.home()/git/<hash>: url, mirror.git/, checkouts/<commit>/

    @property
    def bare(self) -> Path:
        return self.root / "mirror.git"

    def checkout_dir(self, commit: str) -> Path:
        return self.root / "checkouts" / commit

    def _done_marker(self, commit: str) -> Path:
        return self.root / "checkouts" / f".{commit}.complete"

    def repo(self) -> Any:
        return _repo(self.bare)


def _git_failure(exc: Exception) -> str:
    stderr = str(getattr(exc, "stderr", "") or exc)
    lines = [ln.strip().removeprefix("stderr:").strip().strip("'").strip() for ln in stderr.splitlines()]
    lines = [ln for ln in lines if ln]
    fatal = [ln for ln in lines if ln.startswith(("fatal:", "error:"))]
    return (fatal or lines or ["git failed"])[-1].replace("fatal: ", "")


def _set_head(repo: Any, timeout: float) -> None:
    """Point the mirror's HEAD at the remote's default branch, so `git+URL` without @REV means what it says."""
    with contextlib.suppress(Exception):  # a remote without a HEAD symref keeps ours; @REV still works
        out = repo.git.ls_remote("--symref", "origin", "HEAD", kill_after_timeout=timeout)
        match = re.match(r"ref: (refs/heads/\S+)\tHEAD", out)
        if match:
            repo.git.symbolic_ref("HEAD", match.group(1))


def _fetch(mirror: Mirror, progress: Progress) -> None:
    git = _git()
    progress(f"fetching {mirror.url}")
    with mirror.repo() as repo:
        try:
            # A fixed argv: no user text reaches git's options (no --upload-pack & co.); the URL was checked
            # by check_url and GIT_ALLOW_PROTOCOL refuses ext:: and friends.
            repo.git.fetch("--prune", "origin", kill_after_timeout=GIT_TIMEOUT)
        except git.GitCommandError as exc:
            raise ProvisionError(f"cannot fetch {mirror.url}: {_git_failure(exc)}") from exc
        _set_head(repo, GIT_TIMEOUT)


def mirror(url: str, *, fetch: bool = True, progress: Progress = lambda _m: None) -> Mirror:
    """The cached bare mirror of `url`: cloned on first use (atomically), fetched at most once per process."""
    url = check_url(url)
    found = Mirror(url, git_root() / url_hash(url))
    with fs.held_or_undone(f"git-{found.root.name}", git_root()):  # a failed first clone leaves nothing
        if found.bare.is_dir():
            if fetch and url not in _fetched:
                try:
                    _fetch(found, progress)
                except ProvisionError as exc:
                    # The cache still answers for revisions it has; a missing one fails clearly later.
                    progress(f"warning: {exc.one_line()} Using the cached mirror.")
                _fetched.add(url)
            return found
        fs.sweep_staging(found.root)
        if found.root.exists():  # a mirror dir without mirror.git is not ours to trust: start over
            shutil.rmtree(found.root)
        progress(f"cloning {url} (bare mirror, once)")
        with fs.staging_dir(found.root) as staging:
            _git_cmd(staging).init("--bare", "--quiet", str(staging / "mirror.git"))
            with _repo(staging / "mirror.git") as repo:
                # `--mirror=fetch`: refs/* as they are upstream, pull/N/head included.
                repo.git.remote("add", "--mirror=fetch", "--", "origin", url)
            try:
                _fetch(Mirror(url, staging), progress)
            except ProvisionError as exc:
                raise UsageError(exc.message, hint="check the URL and that the repository is reachable") from exc
            (staging / "url").write_text(url + "\n")
            (staging / "checkouts").mkdir()
        _fetched.add(url)
    return found


def precheck_local(url: str, revs: list[str]) -> None:
    """For a local repository, check it is a git repository with these revisions BEFORE anything is cloned,
    so bad input writes nothing (remote URLs can only be checked by fetching)."""
    if not url.startswith("file://"):
        return
    from urllib.parse import unquote, urlparse

    path = Path(unquote(urlparse(url).path))
    git = _git()
    try:
        repo = _repo(path)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise UsageError(f"cannot fetch {url}: not a git repository",
                         hint="point --bindgen-repo at a wasm-bindgen git repository") from None
    with repo:
        for rev in revs:
            if _rev_parse(repo, rev) is None:
                raise UsageError(f"revision {rev!r} does not exist in {url}",
                                 hint="give a branch, tag or commit id that the repository has")


def _rev_parse(repo: Any, rev: str) -> str | None:
    git = _git()
    try:
        out = repo.git.rev_parse("--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}")
    except git.GitCommandError:
        return None
    commit = str(out).strip()
    return commit if _COMMIT.match(commit) else None


def resolve_rev(found: Mirror, rev: str | None, *, progress: Progress = lambda _m: None) -> str:
    """A revision name -> a full commit id, fetching once more if the mirror does not have it yet."""
    name = check_rev(rev) if rev else "HEAD"
    with found.repo() as repo:
        commit = _rev_parse(repo, name)
        if commit is None and found.url not in _fetched:
            with fs.lock(f"git-{found.root.name}"):
                with contextlib.suppress(ProvisionError):
                    _fetch(found, progress)
                _fetched.add(found.url)
            commit = _rev_parse(repo, name)
    if commit is None:
        raise UsageError(f"revision {name!r} does not exist in {found.url}",
                         hint="give a branch, tag, commit id or pull/N/head that the repository has")
    return commit


def subject(found: Mirror, commit: str) -> str:
    with found.repo() as repo:
        return str(repo.git.show("-s", "--format=%s", commit, "--")).strip()


def checkout(found: Mirror, commit: str, *, progress: Progress = lambda _m: None) -> Path:
    """The worktree of `commit` (created once, detached); a half-made one is removed and made again."""
    if not _COMMIT.match(commit):
        raise UsageError(f"{commit!r} is not a full commit id")
    path, marker = found.checkout_dir(commit), found._done_marker(commit)
    if marker.is_file() and path.is_dir():
        return path
    git = _git()
    with fs.lock(f"git-{found.root.name}"), found.repo() as repo:
        if marker.is_file() and path.is_dir():
            return path
        if path.exists():  # interrupted earlier: git may still list it, so prune after removing it
            shutil.rmtree(path)
        with contextlib.suppress(git.GitCommandError):
            repo.git.worktree("prune")
        if _rev_parse(repo, commit) is None:
            if found.url in _fetched:
                raise UsageError(f"commit {commit} is not in {found.url}")
            _fetch(found, progress)
            _fetched.add(found.url)
        progress(f"checking out {commit[:12]} of {found.url}")
        try:
            repo.git.worktree("add", "--detach", str(path), commit)
            fs.atomic_write_text(marker, commit + "\n")
        except BaseException:
            shutil.rmtree(path, ignore_errors=True)
            with contextlib.suppress(Exception):
                repo.git.worktree("prune")
            raise
    return path


def _is_ancestor(repo: Any, ancestor: str, rev: str) -> bool:
    git = _git()
    try:
        repo.git.merge_base("--is-ancestor", ancestor, rev)
    except git.GitCommandError as exc:
        if exc.status == 1:
            return False
        raise
    return True


def first_parent_commits(found: Mirror, good: str, bad: str) -> list[tuple[str, str]]:
    """(commit id, subject) from `good` to `bad` along bad's first-parent chain, oldest first, both ends included."""
    if good == bad:
        raise UsageError("--good and --bad name the same commit", hint="give two different revisions")
    with found.repo() as repo:
        if not _is_ancestor(repo, good, bad):
            raise UsageError(f"{good[:12]} (good) is not an ancestor of {bad[:12]} (bad)",
                             hint="the good revision must be older, on the history of the bad one")
        out = repo.git.log("--first-parent", "--reverse", "--format=%H%x09%s", f"{good}..{bad}", "--")
    commits = []
    for line in str(out).splitlines():
        sha, _, title = line.partition("\t")
        if _COMMIT.match(sha):
            commits.append((sha, title))
    return [(good, subject(found, good)), *commits]


# -- resolve (user text -> BindgenSource) and prepare (BindgenSource -> patches + CLI) -----------------------
@dataclass(frozen=True, kw_only=True)
class Resolved:
    """A source pinned down: what goes into the Variant, plus what a person reads in a report."""

    source: BindgenSource
    requested: str  # the text the user gave
    commit: str | None = None
    subject: str | None = None
    checkout: Path | None = None

    def describe(self) -> str:
        if self.source.kind == "crates":
            return f"wasm-bindgen {self.source.version} (crates.io)"
        if self.source.kind == "git":
            assert self.commit is not None
            return f"{self.requested} = {self.commit[:12]} \"{self.subject}\" (wasm-bindgen {self.source.version})"
        return f"{self.source.url} ({self.source.rev}, wasm-bindgen {self.source.version})"

    def to_json(self) -> dict[str, Any]:
        return {"label": self.source.label(), "requested": self.requested, "kind": self.source.kind,
                "version": self.source.version, "url": self.source.url, "rev": self.source.rev,
                "commit": self.commit, "subject": self.subject,
                "checkout": str(self.checkout) if self.checkout else None}


def git_source(found: Mirror, commit: str, *, requested: str, progress: Progress = lambda _m: None) -> Resolved:
    """The Resolved of one commit of a mirror: checkout + manifests -> crate version."""
    path = checkout(found, commit, progress=progress)
    crates = discover(path, where=f"{found.url}@{commit[:12]}")
    return Resolved(source=BindgenSource(kind="git", version=crates.version, url=found.url, rev=commit),
                    requested=requested, commit=commit, subject=subject(found, commit), checkout=path)


def resolve(spec: SourceSpec | str, *, progress: Progress = lambda _m: None) -> Resolved:
    """User text -> a Resolved source (clones/fetches a git URL once, checks the checkout is wasm-bindgen)."""
    if isinstance(spec, str):
        spec = parse(spec)
    if spec.kind == "crates":
        assert spec.version is not None
        return Resolved(source=BindgenSource.crates(spec.version), requested=spec.text)
    if spec.kind == "git":
        assert spec.url is not None
        found = mirror(spec.url, progress=progress)
        commit = resolve_rev(found, spec.rev, progress=progress)
        return git_source(found, commit, requested=spec.text, progress=progress)
    assert spec.path is not None
    crates = discover(spec.path)
    ident = f"tree-{content_hash(spec.path)}"
    return Resolved(source=BindgenSource(kind="path", version=crates.version, url=str(spec.path), rev=ident),
                    requested=spec.text, checkout=spec.path)


@dataclass(frozen=True, kw_only=True)
class Prepared:
    """Everything a probe of a git/path source needs: the pin, the patches and the matching CLI."""

    version: str
    patches: dict[str, str] = field(default_factory=dict)
    cli: CachedTool
    commit: str | None
    subject: str | None
    test_runner: CachedTool | None = None  # wasm-bindgen-test-runner from the same checkout, when asked for


def prepare(source: BindgenSource, *, progress: Progress = lambda _m: None, test_runner: bool = False) -> Prepared:
    """BindgenSource (git or path, already resolved) -> patches and CLI; builds the CLI once per commit (and the
    test runner of the same checkout when `test_runner`).

    Raises Untestable when the source cannot be tested (no wasm-bindgen crate, CLI does not compile) and
    other WasmBisectErrors for infrastructure problems.
    """
    if source.kind == "crates" or not source.url or not source.rev:
        raise UsageError(f"{source.label()} is not a resolved git or path source")
    commit: str | None = None
    title: str | None = None
    if source.kind == "git":
        found = mirror(source.url, fetch=False, progress=progress)
        commit = source.rev
        path = checkout(found, commit, progress=progress)
        title = subject(found, commit)
        ident = f"git-{commit[:12]}"
    else:
        path = Path(source.url)
        if not path.is_dir():
            raise UsageError(f"checkout {path} is gone")
        now = f"tree-{content_hash(path)}"
        if now != source.rev:
            raise WasmBisectError(f"checkout {path} changed during the run ({source.rev} -> {now})",
                                  hint="re-run to test its current contents")
        ident = f"path-{source.rev.removeprefix('tree-')}"
    try:
        crates = discover(path, where=source.label())
    except UsageError as exc:
        raise Untestable(exc.message, hint=exc.hint) from exc
    if crates.version != source.version:
        raise WasmBisectError(f"{source.label()} provides wasm-bindgen {crates.version}, not {source.version}")
    try:
        cli = bindgen_cli_from_checkout(crates.workspace_root, commit or ident, cli_crate=crates.cli_crate,
                                        version=crates.version, ident=ident, progress=progress)
        runner = bindgen_test_runner_from_checkout(crates.workspace_root, commit or ident,
                                                   cli_crate=crates.cli_crate, version=crates.version, ident=ident,
                                                   progress=progress) if test_runner else None
    except ProvisionError as exc:
        cause = exc.__cause__
        tail = cause.log_tail if isinstance(cause, CommandFailed) else ""
        if "could not compile" in tail or re.search(r"error(\[E[0-9]+\])?:", tail):
            raise Untestable(f"the wasm-bindgen CLI of {source.label()} does not build", hint=exc.hint) from exc
        raise
    return Prepared(version=crates.version, patches=crates.patches, cli=cli, commit=commit, subject=title,
                    test_runner=runner)


def leftovers() -> list[Path]:
    """Half-made entries under paths.home()/git (staging dirs, checkouts without their marker): should be none."""
    root = git_root()
    found: list[Path] = []
    if not root.is_dir():
        return found
    for entry in root.iterdir():
        if entry.name.startswith(".staging-") or not (entry / "mirror.git").is_dir():
            if not entry.name.endswith(".lock"):
                found.append(entry)
            continue
        checkouts = entry / "checkouts"
        for child in checkouts.iterdir() if checkouts.is_dir() else ():
            if not child.name.startswith(".") and not (checkouts / f".{child.name}.complete").is_file():
                found.append(child)
    return found
