"""Bad input, round 2 (issue 13): the twelve classes of "one line, exit 2, no traceback, nothing written, nothing
lost", at least three cases each. Every case also runs through test_bad_input (the same snapshot of the home and
of `{d}`); docs/reliability.md has a row per case, with its class."""

from __future__ import annotations

import os
import socket
import sqlite3
import stat
import subprocess
from pathlib import Path

from .cases import CASES as ROUND1
from .cases import GRID, Case, Setup, T, _cargo, _manifest, _template, config, plain_file

# -- setups --------------------------------------------------------------------------------------------------


def text_file(name: str) -> Setup:
    def write(d: Path) -> None:
        (d / name).write_text("my notes, not a store\n" * 20)

    return write


def foreign_sqlite(name: str, *, wal: bool = False) -> Setup:
    """Another program's SQLite database (WAL mode like Firefox's when `wal`)."""

    def write(d: Path) -> None:
        conn = sqlite3.connect(d / name)
        if wal:
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("CREATE TABLE contacts (name TEXT, phone TEXT)")
        conn.execute("INSERT INTO contacts VALUES ('ada', '555')")
        conn.commit()
        conn.close()

    return write


def _store_with_run(path: Path, *, kind: str = "probe", config_extra: dict[str, object] | None = None) -> None:
    from wasm_bisect.domain.model import BindgenSource, Outcome, ToolchainSpec, Variant, Verdict
    from wasm_bisect.store import Store

    store = Store(path)
    variant = Variant(template="smoke", rustc=ToolchainSpec.parse("debian:1.96.0"),
                      bindgen=BindgenSource.crates("0.2.99"))
    config = {"variant": variant.identity(), **(config_extra or {})}
    run_id = store.start_run(kind=kind, fingerprint=variant.key, command="wasm-bisect probe", config=config)
    outcome = Outcome(verdict=Verdict.GOOD, reason="OK")
    store.put(variant, "t", "c", outcome)
    store.record(run_id, variant, "t", "c", outcome, cached=False)
    store.finish_run(run_id, {"verdict": "good"})
    store.close()


def _sql(path: Path, statement: str) -> None:
    conn = sqlite3.connect(path)
    conn.execute(statement)
    conn.commit()
    conn.close()


def future_store(name: str) -> Setup:
    """A wasm-bisect store written by a newer version (schema 99)."""

    def write(d: Path) -> None:
        _store_with_run(d / name)
        _sql(d / name, "UPDATE meta SET value = '99' WHERE key = 'schema'")

    return write


def damaged_store(name: str) -> Setup:
    """A store of this tool (its header says so), truncated: someone else's copy, never to be repaired."""

    def write(d: Path) -> None:
        _store_with_run(d / name)
        data = (d / name).read_bytes()
        (d / name).write_bytes(data[: len(data) // 3])

    return write


def hostile_store(name: str) -> Setup:
    """A store whose run config is JSON nested 100,000 deep (a RecursionError for a naive reader)."""

    def write(d: Path) -> None:
        _store_with_run(d / name)
        _sql(d / name, "UPDATE runs SET config_json = '" + "[" * 100_000 + "'")

    return write


def shard(name: str, *, grid: object = None) -> Setup:
    """A shard store holding one finished matrix run (written through the store API, nothing built)."""

    def write(d: Path) -> None:
        identity = {"template": "smoke", "rustc": ["debian:1.96.0"], "bindgen": ["0.2.99"],
                    "reference_types": ["default"]}
        _store_with_run(d / name, kind="matrix", config_extra={"grid": identity if grid is None else grid,
                                                                "template_hash": "t", "check_hash": "c"})

    return write


def both(*setups: Setup) -> Setup:
    def write(d: Path) -> None:
        for setup in setups:
            setup(d)

    return write


def device(name: str) -> Setup:
    """A character device node like /dev/null (made with mknod; the suite runs as root)."""

    def write(d: Path) -> None:
        os.mknod(d / name, 0o666 | stat.S_IFCHR, os.makedev(1, 3))

    return write


def fifo(name: str) -> Setup:
    def write(d: Path) -> None:
        os.mkfifo(d / name)

    return write


def unix_socket(name: str) -> Setup:
    def write(d: Path) -> None:
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(d / name))
        sock.close()

    return write


RUSTC_VV = ("rustc 1.96.0 (17067e9ac 2025-05-09)\nbinary: rustc\ncommit-hash: 17067e9ac\nhost: "
            "x86_64-unknown-linux-gnu\nrelease: 1.96.0\nLLVM version: 20.1.1\n")


def fake_toolchain(behaviour: str) -> Setup:
    """`{d}/tc`: a prefix whose rustc and cargo misbehave: `nonsense` (prints something else), `crash` (killed
    by SIGSEGV), `no-wasm32` (a working rustc without a wasm32 std)."""

    def write(d: Path) -> None:
        bin_dir = d / "tc" / "bin"
        bin_dir.mkdir(parents=True)
        body = {
            "nonsense": 'echo "hello from a shell script"\n',
            "crash": "kill -SEGV $$\n",
            "no-wasm32": (f'case "$1" in\n  -vV) printf %s "{RUSTC_VV}";;\n  --print) echo "{d}/tc";;\n'
                          '  -V) echo "cargo 1.96.0 (abc 2025-05-09)";;\nesac\n'),
        }[behaviour]
        for program in ("rustc", "cargo"):
            (bin_dir / program).write_text("#!/bin/sh\n" + body)
            (bin_dir / program).chmod(0o755)

    return write


def tagged_repo(d: Path) -> None:
    """`{d}/repo`: a git repository with tags v0 and v1 (a well-formed bisect-commits input)."""
    repo = d / "repo"
    repo.mkdir()
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    for tag in ("v0", "v1"):
        (repo / "file").write_text(tag)
        for argv in (["init", "-q"] if tag == "v0" else [], ["add", "file"], ["commit", "-qm", tag], ["tag", tag]):
            if argv:
                subprocess.run(["git", "-C", str(repo), *argv], check=True, env=env)


def partial(kind: str) -> Setup:
    """A `.t.partial` next to the init destination, holding the user's own things."""

    def write(d: Path) -> None:
        target = d / ".t.partial"
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


def sparse(rel: str, size: int, *, template: bool = True) -> Setup:
    """A file of `size` bytes that reads as zeros (sparse): refused by stat, never read."""

    def write(d: Path) -> None:
        root = _template(d) if template else d
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            handle.truncate(size)

    return write


def template_fifo(d: Path) -> None:
    t = _template(d)
    (t / "check.mjs").unlink()
    os.mkfifo(t / "check.mjs")


def nested_toml(depth: int) -> Setup:
    return config("rustc = " + "[" * depth + "]" * depth + "\n")


NOX_MANY = "[" + ",".join(f'{{"session": "cell({i})", "name": "cell", "call_spec": {{"cell": "debian:1.96.0@0.2.{i}'
                          '@default"}}' for i in range(300)) + "]"
GIB = 1024**3
PROBE_FOREIGN = ("probe", "--store", "{d}/other.sqlite")
TC = "path:{d}/tc"

# -- the cases, by class ---------------------------------------------------------------------------------------

ROUND2: tuple[Case, ...] = (
    # 1. user-named store files are never repaired, moved, converted or replaced
    Case("store-text-runs", ("runs", "--store", "{d}/notes.txt"), "not a wasm-bisect result store",
         text_file("notes.txt"), issue_class=1),
    Case("store-foreign-probe", PROBE_FOREIGN, "an SQLite database of another program", foreign_sqlite("other.sqlite"),
         issue_class=1),
    Case("store-foreign-wal-log", ("log", "--store", "{d}/other.sqlite"), "another program",
         foreign_sqlite("other.sqlite", wal=True), issue_class=1),
    Case("store-text-matrix", ("matrix", *GRID, "--store", "{d}/notes.txt"), "not a wasm-bisect result store",
         text_file("notes.txt"), issue_class=1),
    Case("store-foreign-report", ("report", "--store", "{d}/other.sqlite"), "another program",
         foreign_sqlite("other.sqlite"), issue_class=1),
    Case("store-foreign-config", ("matrix", *GRID), "another program",
         both(foreign_sqlite("other.sqlite"), config('store = "other.sqlite"\n')), issue_class=1),
    Case("merge-into-text", ("merge", "{d}/shard.sqlite3", "--into", "{d}/notes.txt"), "not a wasm-bisect result store",
         both(shard("shard.sqlite3"), text_file("notes.txt")), issue_class=1),
    Case("merge-shard-foreign", ("merge", "{d}/other.sqlite", "--into", "{d}/merged.sqlite3"), "another program",
         foreign_sqlite("other.sqlite", wal=True), issue_class=1),
    Case("store-future-schema", ("log", "--store", "{d}/future.sqlite3"), "schema version '99'; this wasm-bisect "
         "reads schema version 1", future_store("future.sqlite3"), issue_class=1),
    Case("store-future-schema-bisect", ("bisect", "--store", "{d}/future.sqlite3"), "schema version '99'",
         future_store("future.sqlite3"), issue_class=1),
    Case("store-damaged-user", ("runs", "--store", "{d}/damaged.sqlite3"), "damaged wasm-bisect store",
         damaged_store("damaged.sqlite3"), issue_class=1),
    # 2. output paths are regular files or nothing (and `~` expands the same everywhere)
    Case("report-output-device", ("report", "--no-env", "-o", "{d}/null"), "it is a character device", device("null"),
         home="linked", prepare_home=lambda h: _store_with_run(h / "store.sqlite3"), issue_class=2),
    Case("report-output-fifo", ("report", "--no-env", "-o", "{d}/fifo"), "it is a FIFO", fifo("fifo"),
         home="linked", prepare_home=lambda h: _store_with_run(h / "store.sqlite3"), issue_class=2),
    Case("report-output-dir-slash", ("report", "--no-env", "-o", "{d}/newdir/"), "names a directory", issue_class=2),
    Case("report-output-dot", ("report", "--no-env", "-o", "."), "names a directory", issue_class=2),
    Case("matrix-report-fifo", ("matrix", *GRID, "--report", "md:{d}/fifo"), "it is a FIFO", fifo("fifo"),
         issue_class=2),
    Case("matrix-export-device", ("matrix", *GRID, "--export", "{d}/null"), "it is a character device",
         device("null"), issue_class=2),
    Case("matrix-export-dir-slash", ("matrix", *GRID, "--export", "{d}/out/"), "names a directory", issue_class=2),
    Case("verify-markdown-socket", ("verify", "--against", "0.2.99", "--patch", "0.2.100", "--markdown", "{d}/sock"),
         "it is a socket", unix_socket("sock"), issue_class=2),
    Case("bisect-commits-markdown-device", ("bisect-commits", "--bindgen-repo", "https://h.invalid/wb", "--good", "a",
                                            "--bad", "b", "--markdown", "{d}/null"), "character device", device("null"),
         issue_class=2),
    Case("report-output-unknown-user", ("report", "-o", "~nosuchuser0/r.md"), "cannot expand", issue_class=2),
    Case("cache-export-fifo", ("cache", "export", "{d}/fifo"), "it is a FIFO", fifo("fifo"), issue_class=2),
    Case("store-unknown-user", ("runs", "--store", "~nosuchuser0/s.sqlite3"), "cannot expand", issue_class=2),
    Case("report-output-is-the-store", ("report", "--no-env", "--store", "{d}/s.sqlite3", "-o", "{d}/s.sqlite3"),
         "is the result store of this command", lambda d: _store_with_run(d / "s.sqlite3"), issue_class=2),
    # 3. everything is validated before anything is written, provisioned or fetched
    Case("probe-unpublished-bindgen", ("probe", "--bindgen", "9.9.9"), "9.9.9 is not a published", issue_class=3),
    Case("tools-install-unpublished", ("tools", "install", "--bindgen", "0.2.99", "--bindgen", "9.9.9"),
         "9.9.9 is not a published", issue_class=3),
    Case("matrix-unknown-toolchain", ("matrix", "--rustc", "debian:1.70.0", "--bindgen", "0.2.99"),
         "Debian has no rustc 1.70.0", issue_class=3),
    Case("verify-unknown-toolchain", ("verify", "--against", "0.2.99", "--patch", "0.2.100", "--rustc",
                                      "debian:1.70.0"), "Debian has no rustc 1.70.0", issue_class=3),
    Case("verify-bad-rustc-no-store", ("verify", "--against", "0.2.99", "--patch", "0.2.100", "--rustc", "debian:1.9"),
         "is not of the form X.Y.Z", issue_class=3),
    Case("verify-no-base-no-store", ("verify", "--patch", "0.2.100"), "no finished bisect run", issue_class=3),
    Case("bisect-commits-unknown-toolchain", ("bisect-commits", "--bindgen-repo", "{d}/repo", "--good", "v0", "--bad",
                                              "v1", "--rustc", "debian:1.70.0"), "Debian has no rustc 1.70.0",
         tagged_repo, issue_class=3),
    Case("matrix-bad-shard-before-index", ("matrix", *GRID, "--shard", "0/0"), "--shard '0/0'", issue_class=3),
    Case("bisect-reversed-before-index", ("bisect", "--bindgen", "0.2.99..0.2.92", "--rustc", "debian:1.70.0"),
         "reversed wasm-bindgen range", issue_class=3),
    # 4. templates cannot take wasm-bindgen (or its family) from elsewhere
    Case("cargo-target-table", ("probe", "--template", T), "target-specific table",
         lambda d: _cargo(d, '[package]\nname = "x"\n[dependencies]\nwasm-bindgen = "0.2"\n'
                             "[target.'cfg(target_arch = \"wasm32\")'.dependencies]\njs-sys = \"0.3\"\n"),
         issue_class=4),
    Case("cargo-renamed-dep", ("probe", "--template", T), "takes wb from package (dependencies.wb.package)",
         lambda d: _cargo(d, '[package]\nname = "x"\n[dependencies]\n'
                             'wb = { package = "wasm-bindgen", version = "0.2" }\n'),
         issue_class=4),
    Case("cargo-js-sys-git", ("probe", "--template", T), "takes js-sys from git (dependencies.js-sys.git)",
         lambda d: _cargo(d, '[package]\nname = "x"\n[dependencies]\njs-sys = { git = "https://x.invalid/wb" }\n'),
         issue_class=4),
    Case("cargo-web-sys-path", ("probe", "--template", T), "takes web-sys from path",
         lambda d: _cargo(d, '[package]\nname = "x"\n[dependencies]\n'
                             'web-sys = { path = "/x", features = ["Window"] }\n'),
         issue_class=4),
    Case("cargo-futures-workspace", ("probe", "--template", T), "takes wasm-bindgen-futures from workspace",
         lambda d: _cargo(d, '[package]\nname = "x"\n[dependencies]\nwasm-bindgen-futures = { workspace = true }\n'),
         issue_class=4),
    Case("cargo-test-dev-path", ("probe", "--template", T), "(dev-dependencies.wasm-bindgen-test.path)",
         lambda d: _cargo(d, '[package]\nname = "x"\n[dev-dependencies]\nwasm-bindgen-test = { path = "/x" }\n'),
         issue_class=4),
    Case("cargo-patch-renamed", ("probe", "--template", T), "patches or replaces anything",
         lambda d: _cargo(d, '[package]\nname = "x"\n[patch.crates-io]\n'
                             'anything = { package = "js-sys", path = "/x" }\n'),
         issue_class=4),
    Case("cargo-patch-bindgen-test", ("probe", "--template", T), "patches or replaces wasm-bindgen-test",
         lambda d: _cargo(d, '[package]\nname = "x"\n[patch.crates-io]\nwasm-bindgen-test = { path = "/x" }\n'),
         issue_class=4),
    Case("cargo-underscore-name", ("probe", "--template", T), "spells wasm_bindgen unlike crates.io",
         lambda d: _cargo(d, '[package]\nname = "x"\n[dependencies]\nwasm_bindgen = "0.2"\n'), issue_class=4),
    # 5. template.toml and config are strict: unknown keys ("did you mean") and wrong types refused
    Case("manifest-unknown-table", ("probe", "--template", T),
         "unknown key 'chek' in template.toml of template smoke. did you mean 'check'",
         lambda d: _manifest(d, '\n[chek]\nscript = "check.mjs"\n'), issue_class=5),
    Case("manifest-unknown-key", ("probe", "--template", T), "unknown key 'timout' in [check]",
         lambda d: _manifest(d, "", replace='name = "t"\n[check]\ntimout = 5\n'), issue_class=5),
    Case("manifest-description-type", ("templates", "show", T), "description of template t must be a string",
         lambda d: _manifest(d, "", replace='name = "t"\ndescription = 5\n'), issue_class=5),
    Case("manifest-param-default-list", ("probe", "--template", T), "params.a.default of template t must be a string",
         lambda d: _manifest(d, "", replace='name = "t"\n[params.a]\ndefault = [1, 2]\n'), issue_class=5),
    Case("manifest-expect-unknown", ("templates", "show", T), "unknown key 'gud' in [expect]",
         lambda d: _manifest(d, '\n[expect]\ngud = "ok"\n'), issue_class=5),
    Case("config-did-you-mean", ("matrix", "--config", "{d}/wasm-bisect.toml"), "did you mean 'rustc'",
         config('rusct = "debian:1.96.0"\n'), issue_class=5),
    Case("config-store-type", ("matrix", *GRID), "store must be a path to a result store, not 5",
         config("store = 5\n"), issue_class=5),
    # 6. untrusted structured input is bounded
    Case("nox-matrix-deep-json", ("nox-matrix",), "nests arrays or objects", stdin="[" * 100_000, issue_class=6),
    Case("nox-matrix-call-spec-list", ("nox-matrix",), "call_spec that is not an object",
         stdin='[{"session": "x", "call_spec": [1]}]', issue_class=6),
    Case("nox-matrix-too-many", ("nox-matrix",), "more than GitHub's 256 jobs", stdin=NOX_MANY, issue_class=6),
    Case("nox-matrix-huge-int", ("nox-matrix",), "not valid JSON", stdin="[" + "9" * 5000 + "]", issue_class=6),
    Case("config-deep-toml", ("matrix", "--config", "{d}/wasm-bisect.toml"), "nests tables or arrays",
         nested_toml(50_000), issue_class=6),
    Case("config-shards-too-many", ("matrix", "--config", "{d}/wasm-bisect.toml"), "at most 256",
         config('rustc = "debian:1.96.0"\nbindgen = "0.2.99"\nshards = 1000\n'), issue_class=6),
    Case("matrix-shards-flag-too-many", ("matrix", *GRID, "--emit-github-matrix", "--shards", "257"),
         "--shards 257 must be between 1 and 256", issue_class=6),
    Case("matrix-shard-n-too-large", ("matrix", *GRID, "--shard", "1/100000"), "must be between 1 and 256",
         issue_class=6),
    Case("config-jobs-too-many", ("matrix", "--config", "{d}/wasm-bisect.toml"), "at most 64",
         config("jobs = 100000\n"), issue_class=6),
    Case("store-hostile-json", ("log", "--store", "{d}/hostile.sqlite3"), "nests arrays or objects too deeply",
         hostile_store("hostile.sqlite3"), issue_class=6),
    Case("merge-hostile-grid", ("merge", "{d}/shard.sqlite3", "--into", "{d}/merged.sqlite3"), "no readable grid",
         shard("shard.sqlite3", grid=5), issue_class=6),
    # 7. version text is ASCII
    Case("bindgen-arabic-digits", ("probe", "--bindgen", "\u0660.\u0662.\u0669\u0669"), "non-ASCII", issue_class=7),
    Case("rustup-fullwidth-digits", ("probe", "--rustc", "rustup:\uff11.\uff18\uff12.\uff10"), "non-ASCII",
         issue_class=7),
    Case("rustc-range-arabic-digits", ("bisect", "--rustc", "1.63.0..\u0661.96.0"), "non-ASCII", issue_class=7),
    Case("bindgen-range-arabic-digits", ("matrix", "--rustc", "debian:1.96.0", "--bindgen", "0.2.92..0.2.\u0669\u0669"),
         "non-ASCII", issue_class=7),
    Case("shard-arabic-digits", ("matrix", *GRID, "--shard", "\u0661/\u0662"), "is not K/N", issue_class=7),
    Case("good-arabic-digits", ("bisect", *GRID, "--good", "debian:1.63.0@0.2.\u0669\u0662"), "non-ASCII",
         issue_class=7),
    Case("tools-install-fullwidth", ("tools", "install", "--bindgen", "0.2.\uff19\uff19"), "not an exact X.Y.Z",
         issue_class=7),
    # 8. sizes are checked (stat) before anything is read
    Case("template-sparse-file", ("probe", "--template", T), "too large", sparse("assets/big.bin", 100 * GIB),
         issue_class=8),
    Case("template-sparse-manifest", ("templates", "show", T), "template manifest", sparse("template.toml", 100 * GIB),
         issue_class=8),
    Case("template-fifo-check", ("probe", "--template", T), "has no check script check.mjs", template_fifo,
         issue_class=8),
    Case("cache-import-fifo", ("cache", "import", "{d}/fifo"), "is not a file", fifo("fifo"), issue_class=8),
    Case("config-sparse-file", ("matrix", "--config", "{d}/wasm-bisect.toml"), "too large",
         sparse("wasm-bisect.toml", 100 * GIB, template=False), issue_class=8),
    # 9. nothing of the user's is deleted
    Case("init-partial-dir", ("templates", "init", "smoke", "{d}/t"), ".t.partial already exists", partial("dir"),
         issue_class=9),
    Case("init-partial-file", ("templates", "init", "smoke", "{d}/t"), ".t.partial already exists", partial("file"),
         issue_class=9),
    Case("init-partial-symlink", ("templates", "init", "smoke", "{d}/t"), ".t.partial already exists",
         partial("symlink"), issue_class=9),
    # 10. the home is a directory the tool can write
    Case("home-file-cache-info", ("cache", "info"), "is not a directory", plain_file,
         env=(("WASM_BISECT_HOME", "{d}/file"),), issue_class=10),
    Case("home-file-tools-list", ("tools", "list"), "is not a directory", plain_file,
         env=(("WASM_BISECT_HOME", "{d}/file"),), issue_class=10),
    Case("home-file-toolchain-list", ("toolchain", "list"), "is not a directory", plain_file,
         env=(("WASM_BISECT_HOME", "{d}/file/below"),), issue_class=10),
    Case("home-file-templates-list", ("templates", "list"), "is not a directory", plain_file,
         env=(("WASM_BISECT_HOME", "{d}/file"),), issue_class=10),
    # 11. a path is never read as a range
    Case("path-dotdot-probe", ("probe", "--rustc", "path:{d}/rust..old"), "/rust..old has no bin/rustc",
         issue_class=11),
    Case("path-dotdot-matrix", ("matrix", "--rustc", "path:{d}/a..b", "--bindgen", "0.2.99"), "has no bin/rustc",
         issue_class=11),
    Case("path-relative-dotdot-bisect", ("bisect", "--rustc", "path:../x,path:../y"), "path:../x has no bin/rustc",
         issue_class=11),
    Case("path-dotdot-verify", ("verify", "--against", "0.2.99", "--patch", "0.2.100", "--rustc", "path:/opt/a..b"),
         "has no bin/rustc", issue_class=11),
    # 12. a toolchain that misbehaves is refused (exit 2) the way `toolchain add` refuses it
    Case("toolchain-add-nonsense", ("toolchain", "add", TC), "does not run as rustc", fake_toolchain("nonsense"),
         issue_class=12),
    Case("probe-toolchain-nonsense", ("probe", "--rustc", TC, "--bindgen", "0.2.99"), "does not run as rustc",
         fake_toolchain("nonsense"), issue_class=12),
    Case("matrix-toolchain-crash", ("matrix", "--rustc", TC, "--bindgen", "0.2.99"), "does not run",
         fake_toolchain("crash"), issue_class=12),
    Case("probe-toolchain-no-wasm32", ("probe", "--rustc", TC, "--bindgen", "0.2.99"), "has no wasm32-unknown-unknown",
         fake_toolchain("no-wasm32"), issue_class=12),
    Case("verify-toolchain-no-wasm32", ("verify", "--against", "0.2.99", "--patch", "0.2.100", "--rustc", TC),
         "has no wasm32-unknown-unknown", fake_toolchain("no-wasm32"), issue_class=12),
)

# What each round-2 case sets up, for its row in docs/reliability.md.
NOTES = {
    "store-text-runs": "`{d}/notes.txt`: a text file", "store-foreign-probe": "another program's SQLite file",
    "store-foreign-wal-log": "another program's SQLite file in WAL mode",
    "store-text-matrix": "`{d}/notes.txt`: a text file",
    "store-foreign-report": "another program's SQLite file",
    "store-foreign-config": "wasm-bisect.toml: `store = \"other.sqlite\"` (another program's SQLite file)",
    "merge-into-text": "a valid shard; `--into` a text file",
    "merge-shard-foreign": "the shard is a foreign WAL database",
    "store-future-schema": "a store whose meta.schema is 99", "store-future-schema-bisect": "a store of schema 99",
    "store-damaged-user": "a wasm-bisect store truncated to a third (the user's copy)",
    "report-output-device": "linked home, one run; `{d}/null` made with mknod c 1 3",
    "report-output-fifo": "linked home, one run; `{d}/fifo` made with mkfifo", "report-output-dir-slash": "",
    "report-output-dot": "", "matrix-report-fifo": "`{d}/fifo` a FIFO",
    "matrix-export-device": "`{d}/null` a device node",
    "matrix-export-dir-slash": "", "verify-markdown-socket": "`{d}/sock` a Unix socket",
    "bisect-commits-markdown-device": "`{d}/null` a device node", "report-output-unknown-user": "",
    "cache-export-fifo": "`{d}/fifo` a FIFO", "cache-import-fifo": "`{d}/fifo` a FIFO (never opened)",
    "store-unknown-user": "", "report-output-is-the-store": "`{d}/s.sqlite3` a store with one run",
    "probe-unpublished-bindgen": "fresh home (nothing provisioned)",
    "tools-install-unpublished": "", "matrix-unknown-toolchain": "", "verify-unknown-toolchain": "",
    "verify-bad-rustc-no-store": "", "verify-no-base-no-store": "fresh home, no store",
    "bisect-commits-unknown-toolchain": "`{d}/repo` with tags v0, v1 (no mirror may be written)",
    "matrix-bad-shard-before-index": "", "bisect-reversed-before-index": "",
    "cargo-target-table": "`[target.'cfg(...)'.dependencies] js-sys`", "cargo-renamed-dep": "`wb = { package = ... }`",
    "cargo-js-sys-git": "`js-sys = { git = ... }`", "cargo-web-sys-path": "`web-sys = { path = ... }`",
    "cargo-futures-workspace": "`wasm-bindgen-futures = { workspace = true }`",
    "cargo-test-dev-path": "`[dev-dependencies] wasm-bindgen-test = { path = ... }`",
    "cargo-patch-renamed": "`[patch.crates-io] anything = { package = \"js-sys\", ... }`",
    "cargo-patch-bindgen-test": "`[patch.crates-io] wasm-bindgen-test`",
    "cargo-underscore-name": "`wasm_bindgen = \"0.2\"`",
    "manifest-unknown-table": "template.toml: `[chek]`", "manifest-unknown-key": "`[check] timout = 5`",
    "manifest-description-type": "`description = 5`", "manifest-param-default-list": "`[params.a] default = [1, 2]`",
    "manifest-expect-unknown": "`[expect] gud = ...`", "config-did-you-mean": "`rusct = ...`",
    "config-store-type": "`store = 5`", "nox-matrix-deep-json": "stdin: `[` x 100,000",
    "nox-matrix-call-spec-list": "stdin: call_spec is a list", "nox-matrix-too-many": "stdin: 300 cell sessions",
    "nox-matrix-huge-int": "stdin: a 5,000-digit number", "config-deep-toml": "`rustc` nested 50,000 deep",
    "config-shards-too-many": "`shards = 1000`", "matrix-shards-flag-too-many": "", "matrix-shard-n-too-large": "",
    "config-jobs-too-many": "`jobs = 100000`", "store-hostile-json": "a run whose config is `[` x 100,000",
    "merge-hostile-grid": "a shard whose grid is `5`", "bindgen-arabic-digits": "", "rustup-fullwidth-digits": "",
    "rustc-range-arabic-digits": "", "bindgen-range-arabic-digits": "", "shard-arabic-digits": "",
    "good-arabic-digits": "", "tools-install-fullwidth": "",
    "template-sparse-file": "a 100 GiB sparse file in the template", "template-sparse-manifest":
    "template.toml: 100 GiB sparse", "template-fifo-check": "check.mjs is a FIFO",
    "config-sparse-file": "wasm-bisect.toml: 100 GiB sparse", "init-partial-dir": "`{d}/.t.partial/my-notes.txt`",
    "init-partial-file": "`{d}/.t.partial` a file", "init-partial-symlink": "`{d}/.t.partial` a symlink to a directory",
    "home-file-cache-info": "WASM_BISECT_HOME=`{d}/file`, a file", "home-file-tools-list": "WASM_BISECT_HOME a file",
    "home-file-toolchain-list": "WASM_BISECT_HOME below a file", "home-file-templates-list": "WASM_BISECT_HOME a file",
    "path-dotdot-probe": "", "path-dotdot-matrix": "", "path-relative-dotdot-bisect": "", "path-dotdot-verify": "",
    "toolchain-add-nonsense": "`{d}/tc/bin/rustc` prints something else",
    "probe-toolchain-nonsense": "`{d}/tc/bin/rustc` prints something else",
    "matrix-toolchain-crash": "`{d}/tc/bin/rustc` dies of SIGSEGV",
    "probe-toolchain-no-wasm32": "a rustc that answers, without a wasm32 std",
    "verify-toolchain-no-wasm32": "a rustc that answers, without a wasm32 std",
}

CASES: tuple[Case, ...] = (*ROUND1, *ROUND2)
