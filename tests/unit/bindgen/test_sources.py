"""wasm-bindgen sources: parsing and refusals (pure), crate discovery from metadata, and git on tiny local repos."""

from __future__ import annotations

import inspect
import json
import subprocess
from pathlib import Path
from typing import Any

import git
import pytest
import toml

from wasm_bisect.bindgen import sources
from wasm_bisect.bindgen.toolcache import CachedTool
from wasm_bisect.domain.errors import CommandFailed, ProvisionError, Untestable, UsageError, WasmBisectError
from wasm_bisect.domain.model import BindgenSource

# -- parsing -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "url", "rev"),
    [
        ("git+https://github.com/wasm-bindgen/wasm-bindgen@main", "https://github.com/wasm-bindgen/wasm-bindgen",
         "main"),
        ("git+https://github.com/wasm-bindgen/wasm-bindgen@0.2.100", "https://github.com/wasm-bindgen/wasm-bindgen",
         "0.2.100"),
        ("git+https://github.com/wasm-bindgen/wasm-bindgen@pull/4353/head",
         "https://github.com/wasm-bindgen/wasm-bindgen", "pull/4353/head"),
        ("git+https://github.com/wasm-bindgen/wasm-bindgen@" + "a" * 40, "https://github.com/wasm-bindgen/wasm-bindgen",
         "a" * 40),
        ("git+ssh://git@github.com/wasm-bindgen/wasm-bindgen@fix/detach", "ssh://git@github.com/wasm-bindgen/wasm-bindgen",
         "fix/detach"),
        ("git+ssh://git@github.com/wasm-bindgen/wasm-bindgen", "ssh://git@github.com/wasm-bindgen/wasm-bindgen", None),
        ("git+file:///srv/wasm-bindgen@v1", "file:///srv/wasm-bindgen", "v1"),
        ("git+file:///srv/wasm-bindgen", "file:///srv/wasm-bindgen", None),
        ("git+file:///srv/wasm-bindgen@main~2", "file:///srv/wasm-bindgen", "main~2"),
    ],
)
def test_parse_git(text: str, url: str, rev: str | None) -> None:
    spec = sources.parse(text)
    assert (spec.kind, spec.url, spec.rev) == ("git", url, rev)


def test_parse_versions_and_paths(tmp_path: Path) -> None:
    assert sources.parse("0.2.100").version == "0.2.100"
    assert sources.parse("=0.2.99").version == "0.2.99"
    assert sources.parse(str(tmp_path)).path == tmp_path.resolve()
    assert sources.parse(f"path:{tmp_path}").kind == "path"
    (tmp_path / "wb").mkdir()
    assert sources.parse("wb", cwd=tmp_path).path == (tmp_path / "wb").resolve()


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("git+ext::sh -c touch% /tmp/pwned", "remote helpers"),
        ("ext::sh -c touch% /tmp/pwned", "remote helpers"),
        ("git+fd::17", "remote helpers"),
        ("git+ext://host/x@main", "scheme 'ext' is not allowed"),
        ("git+ftp://host/x@main", "scheme 'ftp' is not allowed"),
        ("git+/srv/x@main", "scheme '(none)' is not allowed"),
        ("git+file://relative/x@main", "must be absolute"),
        ("git+https://-oProxyCommand=x/y@main", "no usable host"),
        ("--upload-pack=touch /tmp/pwned", "starts with '-'"),
        ("git+-u@main", "starts with '-'"),
        ("git+https://host/x@--upload-pack=x", "starts with '-'"),
        ("git+https://host/x@-b", "starts with '-'"),
        ("git+https://host/x@main..evil", "is not a branch"),
        ("git+https://host/x@HEAD@{1}", "is not a branch"),
        ("git+https://host/x@", "names no revision"),
        ("git+https://host/x y@main", "whitespace"),
        ("https://github.com/wasm-bindgen/wasm-bindgen", "write git+"),
        ("/no/such/dir", "not a version"),
        ("", "empty"),
    ],
)
def test_parse_refuses(text: str, needle: str) -> None:
    with pytest.raises(UsageError) as info:
        sources.parse(text)
    assert needle in info.value.one_line()


def test_repo_url(tmp_path: Path) -> None:
    assert sources.repo_url(str(tmp_path)) == tmp_path.resolve().as_uri()
    assert sources.repo_url("git+https://example.org/x.git") == "https://example.org/x.git"
    with pytest.raises(UsageError, match="remote helpers"):
        sources.repo_url("ext::sh -c id")
    with pytest.raises(UsageError, match="starts with '-'"):
        sources.repo_url("--upload-pack=x")


def test_gitpython_unsafe_switches_default_off() -> None:
    """A gitpython upgrade that turned these on by default would silently widen what a URL can do."""
    for func in (git.Repo.clone_from, git.Remote.fetch, git.Remote.create):
        params = inspect.signature(func).parameters
        for name in ("allow_unsafe_protocols", "allow_unsafe_options"):
            if name in params:
                assert params[name].default is False, (func, name)
    assert "ext" not in sources.GIT_ENV["GIT_ALLOW_PROTOCOL"].split(":")


# -- crate discovery (pure part) -------------------------------------------------------------------------------
def _pkg(name: str, path: str, *, kinds: tuple[str, ...] = ("lib",), bins: tuple[str, ...] = (),
         publish: list[str] | None = None, version: str = "0.2.100") -> dict[str, Any]:
    targets = [{"name": name.replace("-", "_"), "kind": list(kinds)}] if kinds else []
    targets += [{"name": b, "kind": ["bin"]} for b in bins]
    return {"name": name, "version": version, "manifest_path": f"/co/{path}/Cargo.toml".replace("/./", "/"),
            "targets": targets, "publish": publish}


METADATA = {
    "workspace_root": "/co",
    "packages": [
        _pkg("wasm-bindgen", "."),
        _pkg("wasm-bindgen-macro", "where/ever/macro", kinds=("proc-macro",)),
        _pkg("wasm-bindgen-shared", "shared"),
        _pkg("js-sys", "js/sys", version="0.3.77"),
        _pkg("the-cli", "tools/bindgen-cli", kinds=(), bins=("wasm-bindgen", "wasm2es6js")),
        _pkg("wasm-bindgen-benchmark", "benchmarks", publish=[]),
        _pkg("example-console-log", "examples/console_log", publish=[]),
        _pkg("serde-derive-fork", "vendor/serde"),
    ],
}


def test_crates_from_metadata_follows_the_manifests_not_a_layout() -> None:
    crates = sources.crates_from_metadata(METADATA, "here")
    assert crates.version == "0.2.100"
    assert crates.cli_crate == Path("/co/tools/bindgen-cli")
    assert crates.workspace_root == Path("/co")
    assert crates.patches == {"wasm-bindgen": "/co", "wasm-bindgen-macro": "/co/where/ever/macro",
                              "wasm-bindgen-shared": "/co/shared", "js-sys": "/co/js/sys"}


@pytest.mark.parametrize(
    ("drop", "needle"),
    [("wasm-bindgen", "no wasm-bindgen crate"), ("the-cli", "but not a package"),
     (("wasm-bindgen", "the-cli"), "neither")],
)
def test_crates_from_metadata_not_wasm_bindgen(drop: str | tuple[str, ...], needle: str) -> None:
    names = {drop} if isinstance(drop, str) else set(drop)
    meta = {**METADATA, "packages": [p for p in METADATA["packages"] if p["name"] not in names]}
    with pytest.raises(UsageError, match=needle):
        sources.crates_from_metadata(meta, "here")


def test_metadata_json_skips_cargo_warnings() -> None:
    out = "warning: unused manifest key: lints\n" + json.dumps(METADATA) + "\n"
    assert sources._metadata_json(out)["workspace_root"] == "/co"
    with pytest.raises(ValueError, match="no JSON"):
        sources._metadata_json("error: nope")


def test_content_hash_ignores_build_output(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "lib.rs").write_text("fn a() {}")
    first = sources.content_hash(tmp_path)
    for junk in ("target", ".git", "node_modules"):
        (tmp_path / junk).mkdir()
        (tmp_path / junk / "x").write_text("noise")
    assert sources.content_hash(tmp_path) == first
    (tmp_path / "src" / "lib.rs").write_text("fn b() {}")
    assert sources.content_hash(tmp_path) != first


# -- prepare (discovery and CLI build stubbed) --------------------------------------------------------------
CRATES = sources.Crates(version="0.2.100", patches={"wasm-bindgen": "/co"}, cli_crate=Path("/co/crates/cli"),
                        workspace_root=Path("/co"))


def _tool() -> CachedTool:
    return CachedTool(name="wasm-bindgen", version="0.2.100", ident="path-x", bin_dir=Path("/t"), build_seconds=1.0)


def test_prepare_path_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "Cargo.toml").write_text("[package]\n")
    monkeypatch.setattr(sources, "discover", lambda path, where=None: CRATES)
    calls: list[dict[str, Any]] = []

    def build(checkout: Path, commit: str, **kw: Any) -> CachedTool:
        calls.append({"checkout": checkout, "commit": commit, **kw})
        return _tool()

    monkeypatch.setattr(sources, "bindgen_cli_from_checkout", build)
    resolved = sources.resolve(str(tmp_path))
    assert resolved.source.kind == "path" and resolved.source.version == "0.2.100"
    assert resolved.source.rev and resolved.source.rev.startswith("tree-")
    prepared = sources.prepare(resolved.source)
    assert prepared.patches == {"wasm-bindgen": "/co"} and prepared.commit is None
    assert calls[0]["cli_crate"] == Path("/co/crates/cli") and calls[0]["version"] == "0.2.100"
    assert calls[0]["ident"] == "path-" + resolved.source.rev.removeprefix("tree-")
    (tmp_path / "Cargo.toml").write_text("[package]\nname = 'changed'\n")
    with pytest.raises(WasmBisectError, match="changed during the run"):
        sources.prepare(resolved.source)


def test_prepare_cli_compile_error_is_untestable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources, "discover", lambda path, where=None: CRATES)
    source = sources.resolve(str(tmp_path)).source

    def fail(tail: str) -> Any:
        def build(*_a: Any, **_k: Any) -> CachedTool:
            cause = CommandFailed("cargo install failed", log_tail=tail)
            raise ProvisionError("building wasm-bindgen path-x failed") from cause

        return build

    monkeypatch.setattr(sources, "bindgen_cli_from_checkout", fail("error[E0425]: cannot find value `x`\n"
                                                                   "error: could not compile `wasm-bindgen-cli`"))
    with pytest.raises(Untestable, match="does not build"):
        sources.prepare(source)
    monkeypatch.setattr(sources, "bindgen_cli_from_checkout", fail("Could not resolve host: index.crates.io"))
    with pytest.raises(ProvisionError) as info:
        sources.prepare(source)
    assert not isinstance(info.value, Untestable)  # infrastructure: ERROR, retried on the next run


def test_prepare_refuses_unresolved() -> None:
    with pytest.raises(UsageError, match="not a resolved"):
        sources.prepare(BindgenSource.crates("0.2.100"))
    with pytest.raises(UsageError, match="not a resolved"):
        sources.prepare(BindgenSource(kind="git", version="0.2.100", url="file:///x"))


# -- git on tiny local repositories ------------------------------------------------------------------------
def _commit(repo: git.Repo, files: dict[str, str], message: str) -> str:
    root = Path(repo.working_tree_dir or ".")
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    repo.git.add("--all")
    repo.git.commit("-q", "--no-gpg-sign", "-m", message)
    return str(repo.head.commit.hexsha)


@pytest.fixture
def origin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """main: c1 - c2 - merge(side: s1) - c3, tags v1 (c1) and v3 (c3), refs/pull/7/head -> s1; default branch main."""
    for key, value in {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t.invalid", "GIT_COMMITTER_NAME": "t",
                       "GIT_COMMITTER_EMAIL": "t@t.invalid", "GIT_CONFIG_GLOBAL": str(tmp_path / "gitconfig"),
                       "GIT_CONFIG_NOSYSTEM": "1"}.items():
        monkeypatch.setenv(key, value)
    (tmp_path / "gitconfig").write_text("")
    repo = git.Repo.init(tmp_path / "origin", initial_branch="main")
    c1 = _commit(repo, {"Cargo.toml": "v = 1\n"}, "first")
    repo.git.tag("v1")
    c2 = _commit(repo, {"Cargo.toml": "v = 2\n"}, "second")
    repo.git.checkout("-q", "-b", "side")
    s1 = _commit(repo, {"side.txt": "s\n"}, "side work")
    repo.git.checkout("-q", "main")
    repo.git.merge("-q", "--no-ff", "--no-gpg-sign", "-m", "merge side", "side")
    merge = str(repo.head.commit.hexsha)
    c3 = _commit(repo, {"Cargo.toml": "v = 3\n"}, "third: the fix")
    repo.git.tag("v3")
    repo.git.update_ref("refs/pull/7/head", s1)
    return {"url": (tmp_path / "origin").as_uri(), "c1": c1, "c2": c2, "s1": s1, "merge": merge, "c3": c3,
            "repo": repo}


@pytest.mark.subprocess
def test_mirror_resolve_checkout(origin: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources, "_fetched", set())
    fetches: list[str] = []
    real_fetch = sources._fetch
    monkeypatch.setattr(sources, "_fetch", lambda m, p: (fetches.append(m.url), real_fetch(m, p))[1])
    found = sources.mirror(origin["url"])
    assert found.bare.is_dir() and (found.root / "url").read_text().strip() == origin["url"]
    assert found.root.parent == sources.git_root()
    for rev, want in (("v1", "c1"), ("main", "c3"), ("pull/7/head", "s1"), (None, "c3"), (origin["c2"], "c2"),
                      (origin["c2"][:10], "c2")):
        assert sources.resolve_rev(found, rev) == origin[want], rev
    assert sources.mirror(origin["url"]) == found
    assert fetches == [origin["url"]]  # cloned once, not fetched again in this process
    with pytest.raises(UsageError, match="does not exist"):
        sources.resolve_rev(found, "no-such-branch")
    path = sources.checkout(found, origin["c2"])
    assert (path / "Cargo.toml").read_text() == "v = 2\n"
    assert sources.checkout(found, origin["c2"]) == path
    assert sources.subject(found, origin["c3"]) == "third: the fix"
    assert sources.leftovers() == []


@pytest.mark.subprocess
def test_half_made_checkout_is_redone(origin: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources, "_fetched", set())
    found = sources.mirror(origin["url"])
    half = found.checkout_dir(origin["c1"])
    half.mkdir(parents=True)
    (half / "junk").write_text("interrupted")
    assert sources.leftovers() == [half]
    path = sources.checkout(found, origin["c1"])
    assert not (path / "junk").exists() and (path / "Cargo.toml").read_text() == "v = 1\n"
    assert sources.leftovers() == []


@pytest.mark.subprocess
def test_first_parent_commits_skip_side_branches(origin: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources, "_fetched", set())
    found = sources.mirror(origin["url"])
    commits = sources.first_parent_commits(found, origin["c1"], origin["c3"])
    assert [sha for sha, _ in commits] == [origin["c1"], origin["c2"], origin["merge"], origin["c3"]]
    assert commits[-1][1] == "third: the fix" and commits[0][1] == "first"
    with pytest.raises(UsageError, match="not an ancestor"):
        sources.first_parent_commits(found, origin["c3"], origin["c1"])
    with pytest.raises(UsageError, match="same commit"):
        sources.first_parent_commits(found, origin["c1"], origin["c1"])


@pytest.mark.subprocess
def test_failed_clone_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources, "_fetched", set())
    with pytest.raises(UsageError, match="cannot fetch"):
        sources.mirror((tmp_path / "missing").as_uri())
    root = sources.git_root()
    assert [p.name for p in root.iterdir()] == [] if root.exists() else True
    assert sources.leftovers() == []


@pytest.mark.subprocess
def test_insteadof_cannot_smuggle_ext(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Even if the user's git config rewrites an allowed URL to ext::, git's protocol allow-list refuses it."""
    monkeypatch.setattr(sources, "_fetched", set())
    pwned = tmp_path / "pwned"
    config = tmp_path / "evil-gitconfig"
    config.write_text(f'[url "ext::sh -c touch% {pwned}% #"]\n\tinsteadOf = file:///evil/\n'
                      '[protocol "ext"]\n\tallow = always\n')
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.delenv("GIT_ALLOW_PROTOCOL", raising=False)
    # Control: plain git with this config does run the command, so the check below means something.
    subprocess.run(["git", "ls-remote", "file:///evil/repo"], capture_output=True, check=False, timeout=60)
    assert pwned.exists()
    pwned.unlink()
    with pytest.raises(UsageError, match="cannot fetch"):
        sources.mirror("file:///evil/repo")
    assert not pwned.exists()
    assert sources.leftovers() == []


@pytest.mark.subprocess
def test_discover_real_cargo_metadata(tmp_path: Path) -> None:
    """`cargo metadata` on a miniature workspace with a non-standard layout (needs the host cargo)."""
    try:
        subprocess.run(["cargo", "--version"], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("no host cargo")
    members = {"lib": ("wasm-bindgen", "src/lib.rs"), "tools/cli": ("my-cli", "src/main.rs"),
               "shared": ("wasm-bindgen-shared", "src/lib.rs")}
    (tmp_path / "Cargo.toml").write_text(toml.dumps({"workspace": {"members": list(members), "resolver": "2"}}))
    for rel, (name, src) in members.items():
        (tmp_path / rel / "src").mkdir(parents=True)
        (tmp_path / rel / src).write_text("fn main() {}\n" if "main" in src else "")
        manifest: dict[str, Any] = {"package": {"name": name, "version": "0.2.101", "edition": "2021"}}
        if name == "my-cli":
            manifest["bin"] = [{"name": "wasm-bindgen", "path": "src/main.rs"}]
        (tmp_path / rel / "Cargo.toml").write_text(toml.dumps(manifest))
    crates = sources.discover(tmp_path)
    assert crates.version == "0.2.101"
    assert crates.cli_crate == (tmp_path / "tools/cli").resolve()
    assert set(crates.patches) == {"wasm-bindgen", "wasm-bindgen-shared"}
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match=r"has no Cargo\.toml"):
        sources.discover(tmp_path / "empty")
