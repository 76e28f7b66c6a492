"""The report loader: a run's row and cells from the store, plus the environment it ran in (I/O).

The renderers in report.py stay pure; everything that reads files or runs programs (`rustc -vV`,
`node --version`) happens here, and a missing tool becomes a note in the report, never a failure.
"""

from __future__ import annotations

import os
import platform
from typing import Any

from wasm_bisect import __version__
from wasm_bisect.domain.errors import StoreError, WasmBisectError
from wasm_bisect.report.document import RunInfo, cell_from, document
from wasm_bisect.store import Store

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


def _toolchain_entry(spec_text: str) -> dict[str, Any]:
    from wasm_bisect import toolchains
    from wasm_bisect.domain.model import ToolchainSpec
    from wasm_bisect.util import processes

    entry: dict[str, Any] = {"spec": spec_text}
    try:
        spec = ToolchainSpec.parse(spec_text)
        if spec.provider == "debian":
            data = toolchains.read_manifest_data(toolchains.DebianProvider.prefix(spec.version))
            package = (data.get("debian") or {}).get("version")
            if package:
                entry["source"] = f"Debian {(data.get('debian') or {}).get('flavour', 'rustc')} {package}"
        toolchain = toolchains.resolve(spec, provision=False)
        entry["rustc_vV"] = processes.output([toolchain.rustc, "-vV"], env=toolchain.environ(os.environ),
                                             timeout=processes.QUERY_TIMEOUT)
        entry["cargo"] = toolchain.cargo_verbose or f"cargo {toolchain.cargo_version}"
    except WasmBisectError as exc:
        entry["error"] = exc.one_line()
    return entry


def _browser_versions(runtimes: list[str]) -> dict[str, str]:
    """`chromium --version` of each browser runtime of the run (a missing one becomes a note)."""
    from wasm_bisect.domain.model import Runtime
    from wasm_bisect.probe import runtimes as browser_runtimes
    from wasm_bisect.util import processes

    out: dict[str, str] = {}
    for name in runtimes:
        runtime = Runtime(name)
        if not runtime.is_browser:
            continue
        try:
            out[name] = processes.output([browser_runtimes.locate(runtime).binary, "--version"], timeout=60)
        except WasmBisectError as exc:
            out[name] = f"unavailable ({exc.one_line()})"
    return out


def collect_environment(rustc: list[str], bindgen: list[str], runtimes: list[str] | None = None) -> dict[str, Any]:
    """rustc -vV of each toolchain (found through its manifest), tool versions, node, browsers, OS."""
    from wasm_bisect.bindgen import toolcache
    from wasm_bisect.util import processes

    cached = {(t.name, t.version) for t in toolcache.installed()}
    wasm_pack = sorted(v for n, v in cached if n == "wasm-pack")
    try:
        node = processes.output(["node", "--version"], timeout=processes.QUERY_TIMEOUT)
    except WasmBisectError as exc:
        node = f"unavailable ({exc.one_line()})"
    return {
        "os": platform.platform(),
        "python": platform.python_version(),
        "node": node,
        "wasm_pack": wasm_pack[-1] if wasm_pack else None,
        "wasm_bindgen": [{"version": b, "cli": ("wasm-bindgen", b) in cached} for b in bindgen],
        "toolchains": [_toolchain_entry(r) for r in rustc],
        **({"browsers": browsers} if (browsers := _browser_versions(runtimes or [])) else {}),
    }
