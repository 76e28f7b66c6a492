"""Facts about this machine that a report records: OS, Python, node, the wasm-pack and wasm-bindgen CLIs in the
tool cache, each toolchain's `rustc -vV` (found through its manifest) and the browsers' versions. A missing tool
becomes a note, never a failure.
"""

from __future__ import annotations

import os
import platform
from typing import Any

from wasm_bisect import toolchains
from wasm_bisect.bindgen import toolcache
from wasm_bisect.domain.errors import WasmBisectError
from wasm_bisect.domain.model import Runtime, ToolchainSpec
from wasm_bisect.probe import runtimes as browser_runtimes
from wasm_bisect.util import processes


def toolchain_entry(spec_text: str) -> dict[str, Any]:
    """A toolchain as a report names it: its Debian package, `rustc -vV`, cargo (an unusable one: its error)."""
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


def browser_versions(runtimes: list[str]) -> dict[str, str]:
    """`chromium --version` of each browser runtime of the run (a missing one becomes a note)."""
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
        "toolchains": [toolchain_entry(r) for r in rustc],
        **({"browsers": browsers} if (browsers := browser_versions(runtimes or [])) else {}),
    }
