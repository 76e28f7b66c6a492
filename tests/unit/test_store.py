from pathlib import Path

from wasm_bisect.domain.model import BindgenSource, Outcome, ToolchainSpec, Variant, Verdict
from wasm_bisect.store import Store


def v(version: str) -> Variant:
    return Variant(template="smoke", rustc=ToolchainSpec.parse("debian:1.96.0"), bindgen=BindgenSource.crates(version))


def test_put_get_and_run_log(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite3")
    assert store.get(v("0.2.99"), "t", "c") is None
    out = Outcome(verdict=Verdict.BAD, reason="detached", evidence={"target_features": ["+reference-types"]})
    store.put(v("0.2.99"), "t", "c", out)
    assert store.get(v("0.2.99"), "t", "c") == out
    assert store.get(v("0.2.99"), "t", "other-check") is None  # a changed check invalidates
    run = store.start_run(kind="bisect", fingerprint="f", command="wasm-bisect bisect", config={"a": 1})
    store.record(run, v("0.2.99"), "t", "c", out, cached=False)
    store.record(run, v("0.2.99"), "t", "c", out, cached=True)
    store.finish_run(run, {"first_bad": "x"})
    probes = store.run_probes(run)
    assert [p.seq for p in probes] == [1, 2] and probes[1].cached
    assert store.run(run[:12]).result == {"first_bad": "x"}
    assert store.run().run_id == run
    store.close()
    reopened = Store(tmp_path / "s.sqlite3")
    assert reopened.get(v("0.2.99"), "t", "c") == out


def test_corrupt_store_is_moved_aside(tmp_path: Path) -> None:
    # Only the tool's own store is ever repaired, and only the very file it made (issue 13): make it first.
    path = Store.default_path()
    Store().close()
    path.write_bytes(b"SQLite format 3\x00" + b"\xff" * 300)
    notes: list[str] = []
    store = Store(path, notice=notes.append)
    store.put(v("0.2.92"), "t", "c", Outcome(verdict=Verdict.GOOD, reason="ok"))
    assert notes and "moved to" in notes[0]
    assert list(path.parent.glob(f"{path.name}.corrupt-*"))
