"""Bad input, round 3 (issue 21): the classes of issue 21 that are refusals (one line, exit 2, no traceback,
nothing written, nothing of the user's touched, no hang), at least four cases each. Every case runs through
test_bad_input with the same snapshot of the home and of `{d}`; docs/reliability.md has a row per case, with its
group. The behaviours that are not refusals (escaped terminal output, a step summary that cannot be written, a
trickling proxy, SIGHUP, archive bounds) are proven in test_round3.py."""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

from .cases import NODE_CHECK, Case, P, Setup, _template, config, store_with_a_run, user_project
from .cases_round2 import CASES as ROUND2_CASES
from .cases_round2 import _store_with_run, both, shard, tagged_repo

FROM_CRATE = ("templates", "init", "--from-crate", P)
APP = ("--package", "app", *NODE_CHECK)
GRID = ("--rustc", "debian:1.63.0,debian:1.96.0", "--bindgen", "0.2.92..0.2.99")
VERIFY = ("verify", "--against", "0.2.99", "--patch", "0.2.100")
CHROMIUM_PROBE = ("probe", "--template", "imagedata-detached", "--runtime", "chromium")

# -- setups --------------------------------------------------------------------------------------------------


def project_and(*more: Setup) -> Setup:
    def write(d: Path) -> None:
        user_project(d)
        for setup in more:
            setup(d)

    return write


def partial_of(name: str, kind: str) -> Setup:
    """`{d}/.NAME.partial` holding the user's things: a directory, a file, or a symlink to a directory."""

    def write(d: Path) -> None:
        target = d / f".{name}.partial"
        if kind == "dir":
            target.mkdir()
            (target / "my-notes.txt").write_text("mine, not wasm-bisect's\n")
        elif kind == "file":
            target.write_text("mine\n")
        else:
            (d / "elsewhere").mkdir()
            (d / "elsewhere" / "keep.txt").write_text("mine\n")
            target.symlink_to(d / "elsewhere", target_is_directory=True)

    return write


def dangling(name: str) -> Setup:
    def write(d: Path) -> None:
        (d / name).symlink_to(d / "nowhere")

    return write


def directory(name: str) -> Setup:
    def write(d: Path) -> None:
        (d / name).mkdir(parents=True)
        (d / name / "mine.txt").write_text("mine\n")

    return write


def loop(name: str = "lp") -> Setup:
    """`{d}/NAME` is a symlink to itself: resolving anything through it is a loop."""

    def write(d: Path) -> None:
        (d / name).symlink_to(name)

    return write


def loop_in_project(d: Path) -> None:
    (user_project(d) / "app" / "loopy").symlink_to("loopy")


def store_at(rel: str) -> Setup:
    def write(d: Path) -> None:
        (d / rel).parent.mkdir(parents=True, exist_ok=True)
        _store_with_run(d / rel)

    return write


def locks_dir(rel: str) -> Setup:
    def write(d: Path) -> None:
        (d / rel).mkdir(parents=True)

    return write


def browser_script(name: str, body: str) -> Setup:
    def write(d: Path) -> None:
        (d / name).write_text("#!/bin/sh\n" + body)
        (d / name).chmod(0o755)

    return write


def browser_config(runtime: str, target: str) -> Setup:
    """wasm-bisect.toml naming a browser binary (`{d}` replaced here: config text is not an argument)."""

    def write(d: Path) -> None:
        (d / "wasm-bisect.toml").write_text(f'[browser-path]\n{runtime} = "{target.replace("{d}", str(d))}"\n')

    return write


ENTRY = "tools/wasm-bindgen/0.2.99"


def _manifest_bytes(entries: list[dict[str, str]]) -> bytes:
    from wasm_bisect.runs import transfer

    return json.dumps({"format": 1, "tool_version": "0", "host": transfer.host(), "entries": entries}).encode()


def _add(tar: tarfile.TarFile, name: str, data: bytes = b"", **fields: object) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o755
    for key, value in fields.items():
        setattr(info, key, value)
    tar.addfile(info, io.BytesIO(data) if data else None)


def archive(kind: str) -> Setup:
    """`{d}/a.tgz`: a cache archive whose manifest lists one tool entry, made bad in one way."""

    def write(d: Path) -> None:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            _add(tar, f"{ENTRY}/tool.json", b'{"version": "0.2.99"}')
            if kind == "dotdot":
                _add(tar, f"{ENTRY}/../../../../evil", b"x")
            elif kind == "absolute":
                _add(tar, "/tmp/wasm-bisect-rel3-evil", b"x")
            elif kind == "symlink-out":
                _add(tar, f"{ENTRY}/bin/wasm-bindgen", type=tarfile.SYMTYPE, linkname="../../../../../etc/passwd")
            elif kind == "symlink-absolute":
                _add(tar, f"{ENTRY}/bin/wasm-bindgen", type=tarfile.SYMTYPE, linkname="/etc/passwd")
            elif kind == "hardlink":
                _add(tar, f"{ENTRY}/bin/wasm-bindgen", type=tarfile.LNKTYPE, linkname=f"{ENTRY}/tool.json")
            elif kind == "device":
                _add(tar, f"{ENTRY}/bin/null", type=tarfile.CHRTYPE, devmajor=1, devminor=3)
            elif kind == "fifo":
                _add(tar, f"{ENTRY}/bin/fifo", type=tarfile.FIFOTYPE)
            elif kind == "stray":
                _add(tar, "toolchains/debian-9.9.9/bin/rustc", b"#!/bin/sh\n")
            elif kind == "huge-member":  # the header of a 2 GiB member (its data need not follow: refused first)
                info = tarfile.TarInfo(f"{ENTRY}/bin/wasm-bindgen")
                info.size = 2 << 30
                tar.addfile(info)
            _add(tar, "wasm-bisect-cache.json",
                 _manifest_bytes([{"kind": "tool", "path": ENTRY, "sha256": "0" * 64}]))
        data = buffer.getvalue()
        if kind == "truncated":
            data = data[: len(data) // 2]
        (d / "a.tgz").write_bytes(data)

    return write


def silent_tool_archive(d: Path) -> None:
    """A well-formed archive (right content hash) of a wasm-bindgen whose `--version` never answers."""
    from wasm_bisect.runs import transfer

    entry = d / "src" / ENTRY
    (entry / "bin").mkdir(parents=True)
    (entry / "tool.json").write_text('{"version": "0.2.99"}')
    (entry / "bin" / "wasm-bindgen").write_text("#!/bin/sh\nsleep 3600\n")
    (entry / "bin" / "wasm-bindgen").chmod(0o755)
    digest = transfer.tree_hash(entry)
    with tarfile.open(d / "a.tgz", "w:gz") as tar:
        tar.add(d / "src" / "tools", arcname="tools")
        _add(tar, "wasm-bisect-cache.json", _manifest_bytes([{"kind": "tool", "path": ENTRY, "sha256": digest}]))
    for path in sorted((d / "src").rglob("*"), reverse=True):  # only the archive stays in {d}
        path.unlink() if not path.is_dir() else path.rmdir()
    (d / "src").rmdir()


def fifo_at(rel: str) -> Setup:
    def write(d: Path) -> None:
        os.mkfifo(d / rel)

    return write


def template_signature(pattern: str) -> Setup:
    def write(d: Path) -> None:
        t = _template(d)
        text = (t / "template.toml").read_text()
        (t / "template.toml").write_text(text.replace("[check]", f"[check]\nfailure_signature = {json.dumps(pattern)}"
                                                      , 1))

    return write


BOMB = "(?:a{1000000}){1000000}"
DEEP = "(" * 400 + "a" + ")" * 400
SHARD = "{d}/s.sqlite3"

ROUND3: tuple[Case, ...] = (
    # writers: never remove what this call did not create
    Case("from-crate-partial-dir", (*FROM_CRATE, "{d}/out", *APP), ".out.partial already exists",
         project_and(partial_of("out", "dir")), group="writers"),
    Case("from-crate-partial-file", (*FROM_CRATE, "{d}/out", *APP), ".out.partial already exists",
         project_and(partial_of("out", "file")), group="writers"),
    Case("from-crate-partial-symlink", (*FROM_CRATE, "{d}/out", *APP), ".out.partial already exists",
         project_and(partial_of("out", "symlink")), group="writers"),
    Case("from-crate-dest-dangling-link", (*FROM_CRATE, "{d}/out", *APP), "/out already exists",
         project_and(dangling("out")), group="writers"),
    # writers of --from-crate: `~` expanded, values the TOML writer would mangle refused
    Case("from-crate-tilde-expanded", (*FROM_CRATE, "~/out", *APP), "/out already exists",
         project_and(directory("out")), env=(("HOME", "{d}"),), group="from-crate"),
    Case("from-crate-tilde-partial", (*FROM_CRATE, "~/out", *APP), ".out.partial already exists",
         project_and(partial_of("out", "dir")), env=(("HOME", "{d}"),), group="from-crate"),
    Case("from-crate-signature-backslash-x", (*FROM_CRATE, "{d}/out", *APP, "--signature", r"\x5bpanic\x5d"),
         "failure_signature cannot be written into template.toml exactly", user_project, group="from-crate"),
    Case("from-crate-signature-control", (*FROM_CRATE, "{d}/out", *APP, "--signature", "pan\x01ic"),
         "failure_signature cannot be written into template.toml exactly", user_project, group="from-crate"),
    Case("from-crate-check-control", (*FROM_CRATE, "{d}/out", "--package", "app", "--check",
                                      "node tests/check.mjs \x02"),
         "command cannot be written into template.toml exactly", user_project, group="from-crate"),
    # outputs never land on the tool's own state
    Case("cache-export-onto-home-store", ("cache", "export", "{d}/h/store.sqlite3"), "is the result store",
         store_at("h/store.sqlite3"), env=(("WASM_BISECT_HOME", "{d}/h"),), group="own-state"),
    Case("cache-export-into-home-locks", ("cache", "export", "{d}/h/locks/c.tgz"), "tool's own state",
         both(store_at("h/store.sqlite3"), locks_dir("h/locks")), env=(("WASM_BISECT_HOME", "{d}/h"),),
         group="own-state"),
    Case("verify-markdown-onto-store", (*VERIFY, "--store", SHARD, "--markdown", SHARD), "is the result store",
         store_at("s.sqlite3"), group="own-state"),
    Case("report-output-onto-wal", ("report", "--no-env", "--store", SHARD, "-o", "{d}/s.sqlite3-wal"),
         "is the wal file of the result store", store_at("s.sqlite3"), group="own-state"),
    Case("report-output-onto-home-shm", ("report", "--no-env", "-o", "{d}/h/store.sqlite3-shm"),
         "is the shm file of the result store", store_at("h/store.sqlite3"), env=(("WASM_BISECT_HOME", "{d}/h"),),
         group="own-state"),
    Case("bisect-commits-markdown-onto-journal", ("bisect-commits", "--bindgen-repo", "{d}/repo", "--good", "v0",
                                                  "--bad", "v1", "--store", SHARD, "--markdown",
                                                  "{d}/s.sqlite3-journal"),
         "is the journal file of the result store", both(tagged_repo, store_at("s.sqlite3")), group="own-state"),
    # cache import: bounded, checked before anything is written
    Case("import-huge-member", ("cache", "import", "{d}/a.tgz"), "bytes (at most", archive("huge-member"),
         group="import-bounds"),
    Case("import-truncated", ("cache", "import", "{d}/a.tgz"), "is damaged or truncated", archive("truncated"),
         group="import-bounds"),
    Case("import-stray-member", ("cache", "import", "{d}/a.tgz"), "outside the entries its manifest lists",
         archive("stray"), group="import-bounds"),
    Case("import-fifo-archive", ("cache", "import", "{d}/a.tgz"), "does not exist or is not a file",
         fifo_at("a.tgz"), group="import-bounds"),
    Case("import-dotdot", ("cache", "import", "{d}/a.tgz"), "a path outside the home", archive("dotdot"),
         group="cache-import"),
    Case("import-absolute", ("cache", "import", "{d}/a.tgz"), "a path outside the home", archive("absolute"),
         group="cache-import"),
    Case("import-symlink-out", ("cache", "import", "{d}/a.tgz"), "leads out of its entry", archive("symlink-out"),
         group="cache-import"),
    Case("import-symlink-absolute", ("cache", "import", "{d}/a.tgz"), "leads out of its entry",
         archive("symlink-absolute"), group="cache-import"),
    Case("import-hardlink", ("cache", "import", "{d}/a.tgz"), "a hard link", archive("hardlink"),
         group="cache-import"),
    Case("import-device", ("cache", "import", "{d}/a.tgz"), "a device, FIFO or other special file",
         archive("device"), group="cache-import"),
    Case("import-fifo-member", ("cache", "import", "{d}/a.tgz"), "a device, FIFO or other special file",
         archive("fifo"), group="cache-import"),
    Case("import-silent-tool", ("cache", "import", "{d}/a.tgz"), "does not answer --version", silent_tool_archive,
         group="cache-import"),
    # failure signatures: bounded at parse time, in the flag, the config and template.toml
    Case("signature-repeat-bomb", ("probe", "--crate", P, *APP, "--signature", BOMB), "repeats too much",
         user_project, group="signature"),
    Case("signature-deep-groups", ("probe", "--crate", P, *APP, "--signature", DEEP), "nests groups 400 deep",
         user_project, group="signature"),
    Case("signature-too-long", ("probe", "--crate", P, *APP, "--signature", "a" * 5000),
         "longer than 2000 characters", user_project, group="signature"),
    Case("config-signature-bomb", ("probe", "--crate", P, *APP), "repeats too much",
         both(user_project, config(f'signature = "{BOMB}"\n')), group="signature"),
    Case("template-signature-bomb", ("probe", "--template", "{d}/t"), "repeats too much",
         template_signature("(?:(?:x{100}){100}){100}"), group="signature"),
    # reports and log: run ids are text, not LIKE patterns
    Case("report-underscore", ("report", "_", "--no-env"), "no run '_'", prepare_home=store_with_a_run,
         group="reports"),
    Case("report-percent", ("report", "%", "--no-env"), "no run '%'", prepare_home=store_with_a_run,
         group="reports"),
    Case("report-digit-percent", ("report", "2%", "--no-env"), "no run '2%'", prepare_home=store_with_a_run,
         group="reports"),
    Case("log-underscore", ("log", "_"), "no run '_'", prepare_home=store_with_a_run, group="reports"),
    Case("log-empty-id", ("log", ""), "no run ''", prepare_home=store_with_a_run, group="reports"),
    # symlink loops: one line wherever a path is resolved
    Case("loop-home", ("runs",), "symlink loop", loop(), env=(("WASM_BISECT_HOME", "{d}/lp"),), group="loops"),
    Case("loop-home-below", ("templates", "list"), "symlink loop", loop(),
         env=(("WASM_BISECT_HOME", "{d}/lp/home"),), group="loops"),
    Case("loop-report-output", ("report", "--no-env", "-o", "{d}/lp/r.md"), "symlink loop", loop(), group="loops"),
    Case("loop-output-itself", ("report", "--no-env", "-o", "{d}/lp"), "symlink loop", loop(), group="loops"),
    Case("loop-export", ("matrix", *GRID, "--export", "{d}/lp/x.sqlite3"), "symlink loop", loop(), group="loops"),
    Case("loop-markdown", (*VERIFY, "--markdown", "{d}/lp/v.md"), "symlink loop", loop(), group="loops"),
    Case("loop-merge-shard", ("merge", "{d}/lp/a.sqlite3"), "symlink loop", loop(), group="loops"),
    Case("loop-merge-into", ("merge", SHARD, "--into", "{d}/lp/m.sqlite3"), "symlink loop",
         both(loop(), shard("s.sqlite3")), group="loops"),
    Case("loop-cache-export", ("cache", "export", "{d}/lp/c.tgz"), "symlink loop", loop(), group="loops"),
    Case("loop-path-toolchain", ("toolchain", "add", "path:{d}/lp"), "symlink loop", loop(), group="loops"),
    Case("loop-config-store", ("report", "--no-env"), "symlink loop",
         both(loop(), config('store = "lp/s.sqlite3"\n')), group="loops"),
    Case("loop-config-template", ("probe",), "symlink loop", both(loop(), config('template = "./lp"\n')),
         group="loops"),
    Case("loop-inside-project", ("probe", "--crate", P, *APP), "symlink loop", loop_in_project, group="loops"),
    # browser paths: checked like the browser they are for, flag and config alike
    Case("browser-path-true", (*CHROMIUM_PROBE, "--browser-path", "/bin/true"), "is not chromium",
         group="browsers"),
    Case("browser-path-hangs", (*CHROMIUM_PROBE, "--browser-path", "{d}/slow"), "did not finish within",
         browser_script("slow", "sleep 3600\n"), group="browsers"),
    Case("browser-path-other-browser", ("probe", "--template", "imagedata-detached", "--runtime", "firefox",
                                        "--browser-path", "{d}/chromium"), "is not firefox",
         browser_script("chromium", 'echo "Chromium 156.0.0.0 built on Debian"\n'), group="browsers"),
    Case("config-browser-path-true", CHROMIUM_PROBE, "is not chromium", browser_config("chromium", "/bin/true"),
         group="browsers"),
    Case("config-browser-path-missing", CHROMIUM_PROBE, "is not an executable file",
         browser_config("chromium", "{d}/none"), group="browsers"),
    # order and debris
    Case("bisect-commits-same-rev", ("bisect-commits", "--bindgen-repo", "{d}/repo", "--good", "v0", "--bad", "v0",
                                     "--rustc", "debian:1.96.0"), "are the same revision", tagged_repo,
         group="order"),
    Case("bisect-commits-reversed", ("bisect-commits", "--bindgen-repo", "{d}/repo", "--good", "v1", "--bad", "v0",
                                     "--rustc", "debian:1.96.0"), "is not an ancestor", tagged_repo,
         allowed=("home/git", "home/locks"), group="order"),
    Case("merge-into-itself", ("merge", SHARD, "--into", SHARD), "nothing to merge", shard("s.sqlite3"),
         group="order"),
    Case("bindgen-leading-zero-list", ("bisect", "--bindgen", "0.2.092,0.2.99"), "without leading zeros",
         group="order"),
    Case("bindgen-leading-zero-range", ("matrix", "--rustc", "debian:1.96.0", "--bindgen", "0.2.092..0.2.99"),
         "without leading zeros", group="order"),
    Case("verify-git-fetch-fails", (*VERIFY[:4], "git+https://127.0.0.1:9/wb.git@main"), "127.0.0.1",
         home="linked", group="order"),
)

# What each round-3 case sets up, for its row in docs/reliability.md.
NOTES = {
    "from-crate-partial-dir": "`{d}/.out.partial/my-notes.txt`", "from-crate-partial-file": "`{d}/.out.partial` a file",
    "from-crate-partial-symlink": "`{d}/.out.partial` a symlink to a directory",
    "from-crate-dest-dangling-link": "`{d}/out` a dangling symlink",
    "from-crate-tilde-expanded": "HOME=`{d}`; `{d}/out` exists (before: a literal `./~/out` was written)",
    "from-crate-tilde-partial": "HOME=`{d}`; `{d}/.out.partial/` the user's",
    "from-crate-signature-backslash-x": "(before: TOMLDecodeError traceback)",
    "from-crate-signature-control": "", "from-crate-check-control": "",
    "cache-export-onto-home-store": "WASM_BISECT_HOME=`{d}/h` with a store",
    "cache-export-into-home-locks": "WASM_BISECT_HOME=`{d}/h`", "verify-markdown-onto-store": "a store with one run",
    "report-output-onto-wal": "a store with one run", "report-output-onto-home-shm": "WASM_BISECT_HOME=`{d}/h`",
    "bisect-commits-markdown-onto-journal": "`{d}/repo` with tags v0, v1",
    "import-huge-member": "a member header of 2 GiB", "import-truncated": "a valid archive cut in half",
    "import-stray-member": "a member outside the manifest's entries", "import-fifo-archive": "`{d}/a.tgz` a FIFO",
    "import-dotdot": "member `tools/.../../../../../evil`", "import-absolute": "member `/tmp/...`",
    "import-symlink-out": "symlink to `../../../../../etc/passwd`", "import-symlink-absolute": "symlink to /etc/passwd",
    "import-hardlink": "a hard link member", "import-device": "a character device member",
    "import-fifo-member": "a FIFO member", "import-silent-tool": "a tool whose --version sleeps (right hash)",
    "signature-repeat-bomb": "", "signature-deep-groups": "", "signature-too-long": "",
    "config-signature-bomb": "wasm-bisect.toml `signature`", "template-signature-bomb": "template.toml, 10^6 atoms",
    "report-underscore": "a store with one run", "report-percent": "a store with one run",
    "report-digit-percent": "a store with one run", "log-underscore": "a store with one run",
    "log-empty-id": "a store with one run",
    "loop-home": "`{d}/lp -> lp`", "loop-home-below": "`{d}/lp -> lp`", "loop-report-output": "`{d}/lp -> lp`",
    "loop-output-itself": "`{d}/lp -> lp`", "loop-export": "`{d}/lp -> lp`", "loop-markdown": "`{d}/lp -> lp`",
    "loop-merge-shard": "`{d}/lp -> lp`", "loop-merge-into": "`{d}/lp -> lp`, a valid shard",
    "loop-cache-export": "`{d}/lp -> lp`", "loop-path-toolchain": "`{d}/lp -> lp`",
    "loop-config-store": "config `store = \"lp/s.sqlite3\"`", "loop-config-template": "config `template = \"./lp\"`",
    "loop-inside-project": "`app/loopy -> loopy` in the project",
    "browser-path-true": "", "browser-path-hangs": "a script that sleeps",
    "browser-path-other-browser": "a script answering like chromium", "config-browser-path-true": "config",
    "config-browser-path-missing": "config", "bisect-commits-same-rev": "`{d}/repo` with tags v0, v1",
    "bisect-commits-reversed": "`{d}/repo` with tags v0, v1 (the mirror cache may be written)",
    "merge-into-itself": "a valid shard", "bindgen-leading-zero-list": "", "bindgen-leading-zero-range": "",
    "verify-git-fetch-fails": "linked home; nothing listens on port 9",
}

CASES: tuple[Case, ...] = (*ROUND2_CASES, *ROUND3)
