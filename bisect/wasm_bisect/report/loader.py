"""The report loader: a run's row and cells from the store, as a report document (reads the store and the
template's files; the renderers in report/formats.py stay pure). What the machine is (`rustc -vV`,
`node --version`, browsers) is asked of probe/machine.py, where machine facts are gathered.
"""

from __future__ import annotations

from typing import Any

from wasm_bisect import __version__
from wasm_bisect.domain.errors import StoreError, WasmBisectError
from wasm_bisect.probe.machine import collect_environment
from wasm_bisect.report.document import RunInfo, cell_from, document
from wasm_bisect.store import Store

# collect_environment is re-exported for report/__init__.py and the tests that replace it (report.load calls it
# when asked for the environment): the document itself is all report/ reads.
__all__ = ["collect_environment", "load", "template_info"]

_MAX_SOURCE = 12_000  # characters of each reproducer file quoted in a report


def load(store: Store, run_id: str | None = None, *, environment: bool = True) -> dict[str, Any]:
    """The report document of run `run_id` (a unique prefix; the newest run when None)."""
    run = store.run(run_id)
    try:
        name = str((run.config.get("grid") or {}).get("template") or run.config.get("template") or
                   (run.config.get("variant") or {}).get("template") or "")
        template = template_info(name, run.config)
        ref = (template or {}).get("ref")  # a directory's path: what a pasted command must name
        named = run.config.get("reproducer_args")  # how commands name any reproducer (crate mode included)
        cells = [cell_from(p.variant, p.outcome, from_store=p.cached, template_ref=ref, reproducer=named)
                 for p in store.run_probes(run.run_id)]
        info = RunInfo(run_id=run.run_id, kind=run.kind, created=run.created, command=run.command,
                       fingerprint=run.fingerprint, config=run.config, result=run.result, cells=cells,
                       tool_version=__version__, template=template)
        doc = document(info)
        grid = doc["grid"]
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError, RecursionError,
            WasmBisectError) as exc:
        # The store is input too: a damaged or hand-edited run is one line, never a traceback.
        raise StoreError(f"run {run.run_id} in {store.path} cannot be read: {type(exc).__name__}",
                         hint="it is damaged or was written by another version of wasm-bisect") from None
    if environment:
        browsers = [r for r in grid.get("runtimes") or [] if r != "node"]
        doc["environment"] = collect_environment(grid["rustc"], grid["bindgen"], *([browsers] if browsers else []))
    return doc


def template_info(name: str, config: dict[str, Any]) -> dict[str, Any] | None:
    """The reproducer's description, upstream issue and source files (what an upstream issue needs): the
    snapshot the run kept when it started, else (runs of older versions) the template as it is now."""
    from wasm_bisect.probe import templates

    snapshot = config.get("template_snapshot")
    if isinstance(snapshot, dict) and isinstance(snapshot.get("files"), dict):
        return {**snapshot, "snapshot": True}
    where = config.get("template_path") or name
    try:
        tmpl = templates.load(str(where))
    except WasmBisectError:
        return None
    shown = ["Cargo.toml", "src/lib.rs", tmpl.check_script]
    files = {}
    for rel in shown:
        if rel in tmpl.files:
            text = tmpl.files[rel].decode(errors="replace")
            files[rel] = text if len(text) <= _MAX_SOURCE else text[:_MAX_SOURCE] + "\n... (truncated)\n"
    return {"name": tmpl.name, "description": tmpl.description, "issue": tmpl.issue, "files": files,
            "check_script": tmpl.check_script, "content_hash": tmpl.content_hash, "check_hash": tmpl.check_hash,
            "snapshot": False, "note": "read when the report was made: this run kept no snapshot of its sources"}
