"""Round 3 (issue 21), the crate reader's classes: unbounded reads, manifests not shape- or depth-checked, input
validated but misleading later, and project config that would take rustc or wasm-bindgen from elsewhere. Each case
is a copy of tests/fixtures/user-project broken one way; the promise is the round-1 one (test_bad_input.py)."""

from __future__ import annotations

import os
from pathlib import Path

from .cases import NODE_CHECK, Case, P, Setup, user_project

CRATE = ("probe", "--crate", P, "--package", "app", "--features", "repro")
CELL = ("--rustc", "debian:1.96.0", "--bindgen", "0.2.95")


def _edit(rel: str, change: str, *, append: bool = True) -> Setup:
    def setup(d: Path) -> None:
        path = user_project(d) / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        old = path.read_text() if append and path.exists() else ""
        path.write_text(old + change)
    return setup


def _replace(rel: str, old: str, new: str) -> Setup:
    def setup(d: Path) -> None:
        path = user_project(d) / rel
        text = path.read_text()
        assert old in text, (rel, old)
        path.write_text(text.replace(old, new))
    return setup


def _fifo(rel: str) -> Setup:
    def setup(d: Path) -> None:
        path = user_project(d) / rel
        path.unlink(missing_ok=True)
        os.mkfifo(path)
    return setup


def _sparse(rel: str, size: int) -> Setup:
    def setup(d: Path) -> None:
        path = user_project(d) / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            handle.truncate(size)
    return setup


def _link_outside(rel: str) -> Setup:
    def setup(d: Path) -> None:
        project = user_project(d)
        path = project / rel
        (d / "outside").write_bytes(path.read_bytes())
        path.unlink()
        path.symlink_to(d / "outside")
    return setup


def _deep_toml(rel: str, *, append: bool = True) -> Setup:
    return _edit(rel, "\n[deep]\nx = " + "[" * 5000 + "]" * 5000 + "\n", append=append)


def _parent_workspace(d: Path) -> None:
    user_project(d)
    (d / "Cargo.toml").write_text("[workspace]\nmembers = " + "[" * 3000 + "]" * 3000 + "\n")


def _not_executable(d: Path) -> None:
    (user_project(d) / "run.sh").write_text("#!/bin/sh\nexit 0\n")


NEST = "cfg(" + "not(" * 200 + "target_arch = \"wasm32\"" + ")" * 200 + ")"

CASES: tuple[Case, ...] = (
    # -- unbounded reads: stat before read, bounded sizes, never open a FIFO or device -----------------------------
    Case("r3-member-manifest-fifo", (*CRATE, *NODE_CHECK, *CELL), "is not a regular file", _fifo("core/Cargo.toml")),
    Case("r3-lock-fifo", (*CRATE, *NODE_CHECK, *CELL), "is not a regular file", _fifo("Cargo.lock")),
    Case("r3-lock-sparse", (*CRATE, *NODE_CHECK, *CELL), "too large", _sparse("Cargo.lock", 8 << 30)),
    Case("r3-data-sparse", (*CRATE, *NODE_CHECK, *CELL), "too large", _sparse("tests/data/huge.bin", 1 << 40)),
    Case("r3-manifest-sparse", (*CRATE, *NODE_CHECK, *CELL), "too large", _sparse("app/Cargo.toml", 1 << 33)),
    # -- manifests: shapes and depth ---------------------------------------------------------------------------
    Case("r3-members-int", (*CRATE, *NODE_CHECK, *CELL), "workspace.members must be an array of strings",
         _replace("Cargo.toml", 'members = ["app", "core"]', "members = 5")),
    Case("r3-members-absolute-glob", (*CRATE, *NODE_CHECK, *CELL), "leaves the workspace",
         _replace("Cargo.toml", 'members = ["app", "core"]', 'members = ["app", "/tmp/*"]')),
    Case("r3-members-bad-glob", (*CRATE, *NODE_CHECK, *CELL), "is not a valid pattern",
         _replace("Cargo.toml", 'members = ["app", "core"]', 'members = ["app", "co**re/*"]')),
    Case("r3-exclude-int", (*CRATE, *NODE_CHECK, *CELL), "workspace.exclude must be an array of strings",
         _replace("Cargo.toml", 'resolver = "2"', 'resolver = "2"\nexclude = 5')),
    Case("r3-package-string", (*CRATE, *NODE_CHECK, *CELL), "package must be a table",
         _replace("core/Cargo.toml", "[package]\n", 'package = "oops"\n[nothing]\n')),
    Case("r3-crate-type-int", (*CRATE, *NODE_CHECK, *CELL), "lib.crate-type must be an array of strings",
         _replace("app/Cargo.toml", 'crate-type = ["cdylib", "rlib"]', "crate-type = 5")),
    Case("r3-patch-string", (*CRATE, *NODE_CHECK, *CELL), "patch must be a table", _edit("Cargo.toml", 'patch = "x"\n',
                                                                                        append=False)),
    Case("r3-path-nul", (*CRATE, *NODE_CHECK, *CELL), "is not a path",
         _replace("app/Cargo.toml", 'path = "../core"', 'path = "../co\\u0000re"')),
    Case("r3-deep-manifest", (*CRATE, *NODE_CHECK, *CELL), "nests", _deep_toml("app/Cargo.toml")),
    Case("r3-deep-lock", (*CRATE, *NODE_CHECK, *CELL), "nests", _deep_toml("Cargo.lock")),
    Case("r3-deep-config", (*CRATE, *NODE_CHECK, *CELL), "nests", _deep_toml(".cargo/config.toml")),
    Case("r3-deep-webdriver-json", ("probe", "--crate", P, "--package", "app", "--check", "wasm-pack-test",
                                    "--runtime", "firefox", *CELL), "nests",
         _edit("app/webdriver.json", "[" * 5000 + "]" * 5000, append=False)),
    Case("r3-deep-cfg", (*CRATE, *NODE_CHECK, *CELL), "nests deeper",
         _edit(".cargo/config.toml", f"\n[target.'{NEST}']\nrustflags = [\"--cfg\", \"x\"]\n")),
    Case("r3-bad-parent-workspace", ("probe", "--crate", P, "--package", "nope", *NODE_CHECK, *CELL),
         "package 'nope' is not in the workspace", _parent_workspace),
    # -- validated but misleading later ------------------------------------------------------------------------
    Case("r3-lock-version-99", (*CRATE, *NODE_CHECK, *CELL), "lockfile version 99",
         _replace("Cargo.lock", "\nversion = 4\n", "\nversion = 99\n")),
    Case("r3-lock-symlink-outside", (*CRATE, *NODE_CHECK, *CELL), "symlink to outside", _link_outside("Cargo.lock")),
    Case("r3-config-symlink-outside", (*CRATE, *NODE_CHECK, *CELL), "symlink to outside",
         _link_outside(".cargo/config.toml")),
    Case("r3-check-is-a-directory", (*CRATE, "--check", "./tests", *CELL), "is a directory", user_project),
    Case("r3-check-not-executable", (*CRATE, "--check", "./run.sh", *CELL), "is not executable", _not_executable),
    Case("r3-check-absolute-missing", (*CRATE, "--check", "node /nonexistent/check.mjs", *CELL),
         "'/nonexistent/check.mjs' does not exist", user_project),
    Case("r3-feature-of-path-dep", ("probe", "--crate", P, "--package", "app", "--features", "app-core/nope",
                                    *NODE_CHECK, *CELL), "dependency app-core has no feature 'nope'", user_project),
    Case("r3-template-without-tests", ("probe", "--template", "smoke", "--check", "wasm-pack-test", *CELL),
         "has no wasm-bindgen-test dev-dependency"),
    # -- project config that takes rustc or wasm-bindgen from elsewhere (item 5) ---------------------------------
    Case("r3-config-patch-bindgen", (*CRATE, *NODE_CHECK, *CELL), "patch.crates-io.wasm-bindgen replaces",
         _edit(".cargo/config.toml", '\n[patch.crates-io]\nwasm-bindgen = { path = "/tmp/wb" }\n')),
    Case("r3-config-source-replace", (*CRATE, *NODE_CHECK, *CELL), "source.crates-io.replace-with",
         _edit(".cargo/config.toml", '\n[source.crates-io]\nreplace-with = "vendored"\n[source.vendored]\n'
                                     'directory = "vendor"\n')),
    Case("r3-config-paths", (*CRATE, *NODE_CHECK, *CELL), "paths overrides",
         _edit(".cargo/config.toml", '\npaths = ["../wasm-bindgen"]\n', append=False)),
    Case("r3-config-rustc-wrapper", (*CRATE, *NODE_CHECK, *CELL), "build.rustc-wrapper",
         _replace(".cargo/config.toml", "[build]\n", '[build]\nrustc-wrapper = "/usr/bin/env"\n')),
    Case("r3-config-rustc", (*CRATE, *NODE_CHECK, *CELL), "build.rustc would build",
         _replace(".cargo/config.toml", "[build]\n", '[build]\nrustc = "/usr/bin/rustc"\n')),
)
