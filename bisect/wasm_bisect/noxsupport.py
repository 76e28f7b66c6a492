"""Drive wasm-bisect from your own noxfile: one nox session per grid cell, parametrized from your config.

    import nox
    from wasm_bisect import noxsupport

    CONFIG = "wasm-bisect.toml"

    @nox.session(python=False)
    @noxsupport.parametrize_cells(CONFIG)
    def cell(session: nox.Session, cell: str) -> None:
        noxsupport.run_cell(session, cell, config=CONFIG)

`nox -l --json | wasm-bisect nox-matrix` turns the session list into a GitHub Actions matrix; each job runs
`nox -s "cell(<id>)"`, which probes that one cell and exports it to wasm-bisect-results/<id>.sqlite3;
a last job runs `wasm-bisect merge wasm-bisect-results/*.sqlite3` and `wasm-bisect report`.
nox is imported only inside these functions, so importing wasm_bisect never needs it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from wasm_bisect import config as config_mod
from wasm_bisect.domain.errors import UsageError
from wasm_bisect.domain.grid import MAX_SHARDS, cell_id
from wasm_bisect.runs import plan
from wasm_bisect.util import bounded, paths

__all__ = ["cells", "github_matrix", "merge_and_report", "parametrize_cells", "results_dir", "run_cell", "safe_name"]

EXPORT_DIR_ENV = "WASM_BISECT_EXPORT_DIR"
DEFAULT_EXPORT_DIR = "wasm-bisect-results"
MAX_NOX_JSON = 16 * 1024 * 1024  # `nox -l --json` of any real noxfile is a few KiB
MAX_SESSIONS = 100_000


def _config_path(config: str | Path | None) -> Path | None:
    if config is None:
        return None
    path = paths.expand(config)
    if not path.is_absolute():
        # nox runs a noxfile from the noxfile's directory, so a relative config sits next to it; the
        # child wasm-bisect gets the absolute path.
        path = Path.cwd() / path
    return path


def cells(config: str | Path | None = None) -> list[str]:
    """The cell ids (`RUSTC@BINDGEN@RT`) of the config's grid, in grid order."""
    grid = plan.make_grid(config_mod.resolve("matrix", config_path=_config_path(config)))
    return [cell_id(v) for v in grid.variants()]


def parametrize_cells(config: str | Path | None = None, *, arg: str = "cell") -> Callable[[Any], Any]:
    """`@nox.parametrize(arg, ...)` over the config's cells, each session named `<session>(<cell id>)`."""
    import nox

    ids = cells(config)
    return nox.parametrize(arg, [nox.param(c, id=c) for c in ids])


def safe_name(cell: str) -> str:
    """A file name for a cell id (`debian:1.63.0@0.2.92@on` -> `debian-1.63.0-0.2.92-on`)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", cell).strip("-")


def results_dir(explicit: str | Path | None = None) -> Path:
    """Where cell sessions export their stores: `explicit`, else $WASM_BISECT_EXPORT_DIR, else
    ./wasm-bisect-results."""
    return paths.expand(explicit or os.environ.get(EXPORT_DIR_ENV) or DEFAULT_EXPORT_DIR)


def run_cell(session: Any, cell: str, *, config: str | Path | None = None, export_dir: str | Path | None = None,
             extra: tuple[str, ...] = ()) -> None:
    """Probe one cell inside a nox session and export it as a store file for `wasm-bisect merge`."""
    out = results_dir(export_dir)
    argv = ["wasm-bisect", "matrix", "--cell", cell, "--export", str(out / f"{safe_name(cell)}.sqlite3")]
    path = _config_path(config)
    if path is not None:
        argv += ["--config", str(path)]
    session.run(*argv, *extra, *session.posargs, external=True)


def merge_and_report(session: Any, *, export_dir: str | Path | None = None,
                     formats: tuple[str, ...] = ("md", "junit", "html", "json")) -> Path:
    """Merge every exported cell store into `<dir>/merged/store.sqlite3` and write `<dir>/report.<ext>`."""
    out = results_dir(export_dir)
    stores = sorted(out.glob("*.sqlite3"))
    if not stores:
        session.error(f"no exported cells in {out}: run some cell sessions first")
    merged = out / "merged" / "store.sqlite3"
    # A fresh target holds exactly one run, the merge, so `report` (newest run) picks it.
    for suffix in ("", "-wal", "-shm"):
        Path(f"{merged}{suffix}").unlink(missing_ok=True)
    merged.parent.mkdir(parents=True, exist_ok=True)
    session.run("wasm-bisect", "merge", *map(str, stores), "--into", str(merged), external=True)
    extension = {"md": "md", "junit": "xml", "html": "html", "json": "json", "svg": "svg"}
    for fmt in formats:
        session.run("wasm-bisect", "report", "--store", str(merged), "--format", fmt, "--output",
                    str(out / f"report.{extension[fmt]}"), external=True)
    return merged


def github_matrix(nox_json: str, *, session: str | None = None) -> dict[str, Any]:
    """`nox -l --json` output -> `{"include": [{"session": ..., "cell": ..., ...}]}` for `strategy.matrix`.

    The text is untrusted: bounded in size and depth, shape-checked entry by entry, and the result bounded by
    what GitHub accepts in one matrix (256 jobs)."""
    try:
        listed = bounded.json_loads(nox_json, what="it", limit=MAX_NOX_JSON)
    except UsageError as exc:
        raise UsageError(f"stdin is not the JSON of `nox -l --json`: {exc.message}") from None
    if not isinstance(listed, list) or len(listed) > MAX_SESSIONS or not all(
            isinstance(s, dict) and isinstance(s.get("session"), str) for s in listed):
        raise UsageError("stdin is not the JSON of `nox -l --json` (a list of sessions)")
    include = []
    for entry in listed:
        spec = entry.get("call_spec") or {}
        if not isinstance(spec, dict):
            raise UsageError(f"stdin: session {entry['session']!r} has a call_spec that is not an object")
        if session is not None and entry.get("name") != session:
            continue
        if session is None and "cell" not in spec:
            continue
        item: dict[str, Any] = {"session": entry["session"]}
        cell = spec.get("cell")
        if isinstance(cell, str):
            rustc, _, rest = cell.partition("@")
            bindgen, _, rt = rest.partition("@")
            item.update(cell=cell, rustc=rustc, bindgen=bindgen, reference_types=rt)
        include.append(item)
    if not include:
        which = f"named {session!r}" if session else "with a `cell` parameter"
        raise UsageError(f"no nox session {which} in the list", hint="see `nox -l`")
    if len(include) > MAX_SHARDS:
        raise UsageError(f"{len(include)} nox sessions, more than GitHub's {MAX_SHARDS} jobs per matrix",
                         hint="shard the grid instead: `wasm-bisect matrix --emit-github-matrix --shards N`")
    return {"include": include}
