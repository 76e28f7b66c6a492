"""Renderers of the report document: JSON, JUnit XML, Markdown, SVG and HTML. Pure: a dict in, text out."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from wasm_bisect.report.document import index_cells, key_evidence, runtime_of

# Verdict colours (GitHub's palette): what the picture, the legend and the HTML table share.
COLOURS = {"good": "#2da44e", "bad": "#cf222e", "skip": "#d4a72c", "error": "#8250df", "none": "#d0d7de",
           "inferred-good": "#dafbe1", "inferred-bad": "#ffebe9"}
INK = {"good": "#ffffff", "bad": "#ffffff", "skip": "#1f2328", "error": "#ffffff", "none": "#57606a",
       "inferred-good": "#1a7f37", "inferred-bad": "#cf222e"}
LABELS = {"good": "good", "bad": "BAD", "skip": "skip", "error": "error", "none": "·", "inferred-good": "(good)",
          "inferred-bad": "(bad)"}
EMOJI = {"good": "✅", "bad": "❌", "skip": "⏭️", "error": "💥", "none": "·"}
FRONTIER_COLOUR = "#1f2328"
STAR_COLOUR = "#bf8700"


_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufffe\uffff]")


def xml_safe(text: str) -> str:
    """Characters XML 1.0 forbids (control characters such as a check's ANSI colours, lone surrogates) shown
    escaped as text (`\\x1b`): stored content cannot make a JUnit, SVG or HTML report invalid."""
    return _XML_INVALID.sub(lambda m: repr(m.group())[1:-1].replace("'", ""), text)


# -- renderers ---------------------------------------------------------------------------------------------
def render(doc: Mapping[str, Any], fmt: str) -> str:
    renderers = {"json": render_json, "junit": render_junit, "md": render_markdown, "svg": render_svg,
                 "html": render_html}
    return renderers[fmt](doc)


def render_json(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=True, default=str) + "\n"


def _cell_name(cell: Mapping[str, Any]) -> str:
    where = runtime_of(cell)
    return (f"rustc {cell['rustc']} + wasm-bindgen {cell['bindgen']} [reference-types={cell['reference_types']}]"
            + ("" if where == "node" else f" in {where}"))


def _in(item: Mapping[str, Any] | None) -> str:
    """` in chromium` for a browser cell or setting, nothing for node (how every format names a runtime)."""
    where = runtime_of(item or {})
    return "" if where == "node" else f" in {where}"


def _same_panel(first: Mapping[str, Any] | None, setting: Mapping[str, Any]) -> bool:
    return bool(first) and (first or {})["reference_types"] == setting["reference_types"] and \
        runtime_of(first or {}) == runtime_of(setting)


def render_junit(doc: Mapping[str, Any]) -> str:
    """JUnit XML: one testsuite per reference-types setting, one testcase per cell.

    bad -> <failure>, skip -> <skipped>, error -> <error>. A bisect also lists the cells it never probed
    as skipped (the search inferred them), so a dashboard shows the whole grid.
    """
    grid = doc["grid"]
    template = grid["template"]
    at = index_cells(doc["cells"])
    root = ET.Element("testsuites", name=f"wasm-bisect {template}")
    totals = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    total_time = 0.0
    for setting in doc["settings"]:
        rt, where = setting["reference_types"], runtime_of(setting)
        panel = rt if where == "node" else f"{rt}.{where}"
        suite = ET.SubElement(root, "testsuite", name=f"wasm-bisect.{template}.reference-types-{panel}")
        counts = dict.fromkeys(totals, 0)
        suite_time = 0.0
        keys = [(r, b, rt, where) for r in grid["rustc"] for b in grid["bindgen"]]
        keys += [k for k in at if k[2:] == (rt, where) and k not in keys]
        for key in keys:
            cell = at.get(key)
            if cell is None and doc["run"]["kind"] != "bisect":
                continue  # a shard or a probe run: the cells it did not run are simply not its tests
            name = _cell_name(cell or {"rustc": key[0], "bindgen": key[1], "reference_types": rt, "runtime": where})
            seconds = float(cell["seconds"]) if cell else 0.0
            case = ET.SubElement(suite, "testcase", classname=f"wasm-bisect.{template}.{panel}", name=name,
                                 time=f"{seconds:.3f}")
            counts["tests"] += 1
            suite_time += seconds
            if cell is None:
                ET.SubElement(case, "skipped", message="not probed: the bisect inferred this cell")
                counts["skipped"] += 1
                continue
            verdict = cell["verdict"]
            detail = cell["log_tail"] or cell["reason"]
            if verdict == "bad":
                ET.SubElement(case, "failure", message=cell["reason"], type="bad").text = detail
                counts["failures"] += 1
            elif verdict == "skip":
                ET.SubElement(case, "skipped", message=cell["reason"])
                counts["skipped"] += 1
            elif verdict == "error":
                ET.SubElement(case, "error", message=cell["reason"], type=cell["stage"] or "error").text = detail
                counts["errors"] += 1
            out = [f"reproduce: {cell['reproduce']}", f"stage: {cell['stage']}", f"by: {cell.get('by', 'check')}"]
            out += [f"{k}: {json.dumps(v)}" for k, v in key_evidence(cell["evidence"]).items()]
            ET.SubElement(case, "system-out").text = "\n".join(out)
        for k, v in counts.items():
            suite.set(k, str(v))
            totals[k] += v
        suite.set("time", f"{suite_time:.3f}")
        total_time += suite_time
    for k, v in totals.items():
        root.set(k, str(v))
    root.set("time", f"{total_time:.3f}")
    ET.indent(root)
    return xml_safe('<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n")


def plain_rustc(spec: str) -> str:
    """`debian:1.96.0` -> `1.96.0`: what a reader upstream knows a rustc by (where it came from is in details)."""
    provider, sep, rest = spec.partition(":")
    return rest if sep and provider in ("debian", "rustup") else spec


def _first_text(first: Mapping[str, Any] | None) -> str:
    if not first:
        return "no failing pair"
    return (f"rustc {plain_rustc(first['rustc'])} + wasm-bindgen {first['bindgen']} with reference-types "
            f"{first['reference_types']}{_in(first)}")


def _toolchain_source(doc: Mapping[str, Any], spec: str) -> str | None:
    for entry in (doc.get("environment") or {}).get("toolchains", []):
        if entry.get("spec") == spec:
            return str(entry.get("source") or "") or None
    return None


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(doc: Mapping[str, Any]) -> str:
    """Markdown to paste into an upstream issue: the finding first, then the grid, how to reproduce, the
    environment and the reproducer's source."""
    grid, run, summary = doc["grid"], doc["run"], doc["summary"]
    first = doc["first_failing"]
    template = doc.get("template") or {}
    out = [f"## {grid['template']}: {_first_text(first)}", ""]
    if template.get("description"):
        out += [f"> {template['description']}", ""]
    if template.get("issue"):
        out += [f"Upstream issue: {template['issue']}", ""]
    out += [f"wasm-bisect {doc['tool']['version']} {run['kind']} run `{run['id']}` over "
            f"{len(grid['rustc'])} rustc x {len(grid['bindgen'])} wasm-bindgen x "
            f"{len(grid['reference_types'])} reference-types settings"
            + (f" x {len(grid['runtimes'])} runtimes ({', '.join(grid['runtimes'])})"
               if grid.get("runtimes", ["node"]) != ["node"] else "")
            + f": {summary['cells']} cells probed "
            f"({summary['good']} good, {summary['bad']} bad, {summary['skip']} skipped, {summary['error']} errors)"
            + (f", {summary['not_probed']} inferred" if summary["not_probed"] and run["kind"] == "bisect" else "")
            + ".", ""]
    out += ["### Finding", ""]
    if first:
        source = _toolchain_source(doc, first["rustc"])
        out.append(f"- **First failing pair:** rustc `{plain_rustc(first['rustc'])}` + wasm-bindgen "
                   f"`{first['bindgen']}` (reference-types `{first['reference_types']}`{_in(first)})")
        out.append(f"- rustc `{plain_rustc(first['rustc'])}` is `{first['rustc']}`" + (f": {source}" if source else ""))
        if first.get("reason"):
            out.append(f"- Failure: `{_md_cell(first['reason'])}`")
        runtime_evidence = (first.get("evidence") or {}).get("runtime")
        if isinstance(runtime_evidence, dict) and runtime_evidence.get("browser"):
            out.append(f"- Runtime: {runtime_evidence['browser']}"
                       + (f" ({runtime_evidence['driver']})" if runtime_evidence.get("driver") else ""))
        if first.get("last_good_bindgen"):
            out.append(f"- Last good wasm-bindgen on that rustc: `{first['last_good_bindgen']}`")
        if first.get("last_good_rustc"):
            out.append(f"- Last good rustc with that wasm-bindgen: `{first['last_good_rustc']}`")
        for link in first.get("compare") or []:
            out.append(f"- Compare: {link}")
        evidence = first.get("evidence") or {}
        if evidence.get("target_features") is not None:
            out.append(f"- Module `target_features`: `{' '.join(evidence['target_features']) or '(none)'}`")
        if "externref_transform" in evidence:
            out.append(f"- Externref transform in the JS glue: {'yes' if evidence['externref_transform'] else 'no'}")
    else:
        out.append("- No cell failed.")
    for setting in doc["settings"]:
        other = setting.get("first_failing")
        if other and first and other is not first and other != first:
            out.append(f"- With reference-types `{setting['reference_types']}`{_in(setting)}: first failing pair "
                       f"rustc `{other['rustc']}` + wasm-bindgen `{other['bindgen']}`"
                       + (f": `{_md_cell(other['reason'])}`" if other.get("reason") else ""))
    if doc["reference_types"]["message"]:
        out.append(f"- Reference-types: {doc['reference_types']['message']}")
    out += ["", "### Grid", ""]
    at = index_cells(doc["cells"])
    for setting in doc["settings"]:
        rt, where = setting["reference_types"], runtime_of(setting)
        star = first if _same_panel(first, setting) else setting.get("first_failing")
        out += [f"reference-types `{rt}`{_in(setting)}:", "",
                "| rustc \\ wasm-bindgen | " + " | ".join(grid["bindgen"]) + " |",
                "|---|" + "---|" * len(grid["bindgen"])]
        for rustc in grid["rustc"]:
            row = []
            for bindgen in grid["bindgen"]:
                cell = at.get((rustc, bindgen, rt, where))
                verdict = cell["verdict"] if cell else "none"
                text = f"{EMOJI[verdict]} {LABELS[verdict]}" if cell else "·"
                if cell and cell.get("by") == "person":
                    text += " 👤"
                if star and (star["rustc"], star["bindgen"]) == (rustc, bindgen):
                    text = f"**{text} ★**"
                row.append(text)
            out.append(f"| {rustc} | " + " | ".join(row) + " |")
        out.append("")
    out += ["✅ good · ❌ bad · ⏭️ skip (untestable: incompatible pair or unrelated failure) · 💥 error "
            "(infrastructure) · `·` not probed · ★ first failing pair"
            + (" · 👤 judged by a person (`--prompt`, `mark`, `replay`)"
               if any(c.get("by") == "person" for c in doc["cells"]) else ""), ""]
    skips = [c for c in doc["cells"] if c["verdict"] in ("skip", "error")]
    if skips:
        out += ["<details><summary>Untestable cells and why</summary>", ""]
        out += [f"- `{c['rustc']}` + `{c['bindgen']}` [{c['reference_types']}]{_in(c)}: {c['verdict']}: "
                f"{_md_cell(c['reason'])}" for c in skips]
        out += ["", "</details>", ""]
    by_hand = (doc.get("reproduce") or {}).get("by_hand")
    if by_hand:
        out += ["### Reproduce without wasm-bisect", "",
                "The first failing pair as plain commands: the crate exactly as it was built (Cargo.toml with its "
                "pins, Cargo.lock, sources, check), the flags and the check's environment.", "", "```sh",
                by_hand.rstrip(), "```", ""]
    out += ["### Reproduce with wasm-bisect", "", "```sh"]
    if first:
        out += ["# the first failing pair", first["reproduce"]]
        last = first.get("last_good_bindgen")
        if last:
            good_cell = at.get((first["rustc"], last, first["reference_types"], runtime_of(first)))
            if good_cell:
                out += ["# its last good neighbour", good_cell["reproduce"]]
    out += ["# the whole grid", doc["reproduce"]["grid"], "```", ""]
    env = doc.get("environment")
    if env:
        out += ["### Environment", ""]
        for key, label in (("os", "OS"), ("node", "Node"), ("wasm_pack", "wasm-pack"), ("python", "Python")):
            if env.get(key):
                out.append(f"- {label}: `{env[key]}`")
        for name, version in (env.get("browsers") or {}).items():
            out.append(f"- {name}: `{version}`")
        if env.get("wasm_bindgen"):
            versions = ", ".join(f"`{b['version']}`" + ("" if b.get("cli") else " (CLI not built)")
                                 for b in env["wasm_bindgen"])
            out.append(f"- wasm-bindgen (crate and CLI, exact): {versions}")
        out.append("")
        for tc in env.get("toolchains", []):
            title = f"{tc['spec']}" + (f" ({tc['source']})" if tc.get("source") else "")
            out += [f"<details><summary>rustc -vV: {title}</summary>", "", "```", tc.get("rustc_vV") or
                    tc.get("error") or "unknown"]
            if tc.get("cargo"):
                out.append(tc["cargo"])
            out += ["```", "", "</details>", ""]
    files = {name: text for name, text in (template.get("files") or {}).items() if name != "template.toml"}
    if files:
        out += ["### Reproducer source", ""]
        if not template.get("snapshot", True):
            out += [f"_{template.get('note', 'read when the report was made')}_", ""]
        for name, text in files.items():
            lang = {"rs": "rust", "mjs": "js", "js": "js", "toml": "toml"}.get(name.rpartition(".")[2], "")
            out += [f"<details><summary>{name}</summary>", "", f"```{lang}", text.rstrip(), "```", "",
                    "</details>", ""]
    out.append(f"<sub>report schema {doc['schema']} v{doc['schema_version']}, run {run['id']}, "
               f"created {run['created']}</sub>")
    return "\n".join(out) + "\n"


# -- picture -----------------------------------------------------------------------------------------------
_CELL_W, _CELL_H, _LABEL_W, _MARGIN = 96, 32, 150, 24
_TITLE_H, _PANEL_HEAD, _PANEL_GAP = 64, 50, 26


def _text(x: float, y: float, text: str, *, size: int = 13, anchor: str = "start", weight: str = "normal",
          fill: str = "#1f2328", cls: str = "") -> str:
    attrs = f' class="{cls}"' if cls else ""
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" font-weight="{weight}" '
            f'fill="{fill}"{attrs}>{escape(text)}</text>')


def svg_size(doc: Mapping[str, Any]) -> tuple[int, int]:
    """Width and height of the picture (for a screenshot window)."""
    grid = doc["grid"]
    width = max(_MARGIN * 2 + _LABEL_W + _CELL_W * len(grid["bindgen"]), 640)
    panels = len(doc["settings"])
    height = (_TITLE_H + panels * (_PANEL_HEAD + _CELL_H * len(grid["rustc"]) + _PANEL_GAP)
              + _legend_height(width, inferred=doc["run"]["kind"] == "bisect"))
    return width, height


def render_svg(doc: Mapping[str, Any], *, standalone: bool = True) -> str:
    """The grid coloured by verdict, one panel per reference-types setting, the frontier drawn as a
    staircase, the first failing pair starred, and a legend. Every cell is a `rect.cell`."""
    grid, run = doc["grid"], doc["run"]
    rows, cols = grid["rustc"], grid["bindgen"]
    width, height = svg_size(doc)
    at = index_cells(doc["cells"])
    first = doc["first_failing"]
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" class="wasm-bisect-grid" '
             f'font-family="-apple-system, Segoe UI, Helvetica, Arial, sans-serif">',
             f"<title>wasm-bisect {escape(grid['template'])}: {escape(_first_text(first))}</title>",
             f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
             _text(_MARGIN, 28, f"wasm-bisect · {grid['template']} · {run['kind']} run {run['id']}", size=16,
                   weight="bold"),
             _text(_MARGIN, 50, f"first failing pair: {_first_text(first)}", size=13, fill="#57606a")]
    y = _TITLE_H
    x0 = _MARGIN + _LABEL_W
    for setting in doc["settings"]:
        rt, where = setting["reference_types"], runtime_of(setting)
        parts.append(f'<g class="panel" data-reference-types={quoteattr(rt)} data-runtime={quoteattr(where)}>')
        parts.append(_text(_MARGIN, y + 18, f"reference-types = {rt}{_in(setting)}", size=14, weight="bold"))
        header_y = y + 42
        parts.append(_text(_MARGIN, header_y, "rustc \\ wasm-bindgen", size=11, fill="#57606a"))
        for c, bindgen in enumerate(cols):
            parts.append(_text(x0 + c * _CELL_W + _CELL_W / 2, header_y, bindgen, size=12, anchor="middle"))
        top = y + _PANEL_HEAD
        star = first if _same_panel(first, setting) else setting.get("first_failing")
        rows_by_rustc = {f["rustc"]: f for f in setting["frontier"]}
        for r, rustc in enumerate(rows):
            cy = top + r * _CELL_H
            parts.append(_text(_MARGIN, cy + _CELL_H / 2 + 4, rustc, size=12))
            for c, bindgen in enumerate(cols):
                cell = at.get((rustc, bindgen, rt, where))
                verdict = cell["verdict"] if cell else "none"
                shade = verdict
                if cell is None and run["kind"] == "bisect":
                    shade = _inferred(rows_by_rustc.get(rustc), cols, c)
                cx = x0 + c * _CELL_W
                name = _cell_name({"rustc": rustc, "bindgen": bindgen, "reference_types": rt, "runtime": where})
                tip = f"{name}: " + (
                    f"{verdict}: {cell['reason']}" if cell else "not probed" + (
                        f", inferred {shade[9:]} by the search" if shade != verdict else ""))
                extra = f" {shade}" if shade != verdict else ""
                parts.append(
                    f'<rect class="cell verdict-{verdict}{extra}" data-rustc={quoteattr(rustc)} '
                    f'data-bindgen={quoteattr(bindgen)} data-reference-types={quoteattr(rt)} '
                    f'data-runtime={quoteattr(where)} '
                    f'x="{cx + 1}" y="{cy + 1}" width="{_CELL_W - 2}" height="{_CELL_H - 2}" rx="3" '
                    f'fill="{COLOURS[shade]}"><title>{escape(tip)}</title></rect>')
                parts.append(_text(cx + _CELL_W / 2, cy + _CELL_H / 2 + 4, LABELS[shade], size=12,
                                   anchor="middle", fill=INK[shade], weight="bold" if verdict == "bad" else
                                   "normal"))
                if star and (star["rustc"], star["bindgen"]) == (rustc, bindgen):
                    parts.append(f'<rect class="first-failing" x="{cx + 1}" y="{cy + 1}" width="{_CELL_W - 2}" '
                                 f'height="{_CELL_H - 2}" rx="3" fill="none" stroke="{STAR_COLOUR}" '
                                 'stroke-width="3"/>')
                    parts.append(_text(cx + _CELL_W - 10, cy + 13, "★", size=12, anchor="middle",
                                       fill="#ffd33d"))
        parts.append(_frontier_path(setting["frontier"], rows, cols, x0, top))
        parts.append("</g>")
        y = top + len(rows) * _CELL_H + _PANEL_GAP
    parts.append(_legend(y, width, inferred=run["kind"] == "bisect"))
    parts.append("</svg>")
    body = "\n".join(parts) + "\n"
    return xml_safe(('<?xml version="1.0" encoding="UTF-8"?>\n' + body) if standalone else body)


def _inferred(row: Mapping[str, Any] | None, cols: Sequence[str], col: int) -> str:
    """How a bisect's search classed a cell it did not probe: left of a certain frontier good, right bad."""
    if not row or not row.get("certain"):
        return "none"
    if "bad" in row:  # bisects that know their orientation: the bad releases of the row, in release order
        bad = row["bad"]
        inside = bad is not None and cols.index(bad["from"]) <= col <= cols.index(bad["to"])
        return "inferred-bad" if inside else "inferred-good"
    first_bad = row.get("first_bad")
    edge = cols.index(first_bad) if first_bad in cols else len(cols)
    return "inferred-good" if col < edge else "inferred-bad"


def _frontier_path(frontier: Sequence[Mapping[str, Any]], rows: Sequence[str], cols: Sequence[str],
                   x0: float, top: float) -> str:
    """The staircase between good and bad: in each row, at the left edge of its first bad column (the
    right edge of the grid when the row has none); dashed boxes over rows whose first bad is uncertain."""
    by_rustc = {f["rustc"]: f for f in frontier}
    points: list[tuple[float, float]] = []
    boxes = []
    any_bad = False
    for r, rustc in enumerate(rows):
        row = by_rustc.get(rustc)
        first_bad = row.get("first_bad") if row else None
        any_bad = any_bad or first_bad is not None
        c = cols.index(first_bad) if first_bad in cols else len(cols)
        bad = (row or {}).get("bad")
        if bad and bad["from"] in cols and bad["to"] in cols:  # the bad side may be the older releases
            lo, hi = cols.index(bad["from"]), cols.index(bad["to"])
            c = hi + 1 if lo == 0 and hi < len(cols) - 1 else lo
        x = x0 + c * _CELL_W
        points += [(x, top + r * _CELL_H), (x, top + (r + 1) * _CELL_H)]
        candidates = [cols.index(b) if b in cols else len(cols) for b in (row or {}).get("candidates", [])]
        if len(candidates) > 1:
            lo, hi = min(candidates), min(max(candidates), len(cols) - 1)
            boxes.append(f'<rect class="frontier-uncertain" x="{x0 + lo * _CELL_W}" y="{top + r * _CELL_H}" '
                         f'width="{(hi - lo + 1) * _CELL_W}" height="{_CELL_H}" fill="none" '
                         f'stroke="{FRONTIER_COLOUR}" stroke-width="2" stroke-dasharray="5 4"/>')
    if not any_bad:
        return ""  # nothing fails on this setting: no frontier to draw
    path = " ".join(f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}" for i, (x, y) in enumerate(points))
    return (f'<path class="frontier" d="{path}" fill="none" stroke="{FRONTIER_COLOUR}" stroke-width="4" '
            f'stroke-linejoin="round"/>' + "".join(boxes))


def _legend_layout(width: int, *, inferred: bool) -> tuple[list[tuple[str, str, float, int]], int]:
    """Legend entries placed left to right, wrapping at the picture's width: (verdict, label, x, row)."""
    entries = [("good", "good"), ("bad", "bad"), ("skip", "skip: untestable"), ("error", "error: infrastructure"),
               ("none", "not probed")]
    if inferred:
        entries += [("inferred-good", "inferred good"), ("inferred-bad", "inferred bad")]
    placed = []
    x, row = 0.0, 0
    for verdict, label in entries:
        step = 24 + 7 * len(label) + 22
        if x and x + step > width - 2 * _MARGIN:
            x, row = 0.0, row + 1
        placed.append((verdict, label, x, row))
        x += step
    return placed, row + 1


def _legend_height(width: int, *, inferred: bool) -> int:
    return _legend_layout(width, inferred=inferred)[1] * 24 + 40


def _legend(y: float, width: int, *, inferred: bool = False) -> str:
    parts = [f'<g class="legend" transform="translate({_MARGIN},{y})">']
    placed, rows = _legend_layout(width, inferred=inferred)
    for verdict, label, x, row in placed:
        parts.append(f'<rect class="legend-swatch legend-{verdict}" x="{x}" y="{row * 24}" width="18" height="18" '
                     f'rx="3" fill="{COLOURS[verdict]}"/>')
        parts.append(_text(x + 24, row * 24 + 14, label, size=12))
    line_y = rows * 24 + 14
    parts.append(f'<path d="M0,{line_y} L28,{line_y}" stroke="{FRONTIER_COLOUR}" stroke-width="4"/>')
    parts.append(_text(36, line_y + 4, "frontier: first bad wasm-bindgen of each rustc", size=12))
    parts.append(_text(min(360, width - 200), line_y + 4, "★ first failing pair", size=12, fill=STAR_COLOUR))
    parts.append("</g>")
    return "".join(parts)


_HTML_STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #1f2328; margin: 24px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 22px 0 8px; }
.meta { color: #57606a; font-size: 13px; }
table.cells { border-collapse: collapse; font-size: 12px; }
table.cells td, table.cells th { border: 1px solid #d0d7de; padding: 3px 6px; text-align: left; vertical-align: top; }
.badge { display: inline-block; padding: 1px 6px; border-radius: 3px; font-weight: 600; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; }
pre { background: #f6f8fa; padding: 8px; overflow-x: auto; }
"""


def render_html(doc: Mapping[str, Any]) -> str:
    """A self-contained page (no external resources): summary, the SVG grid, cells, reproduce, environment."""
    grid, run, summary = doc["grid"], doc["run"], doc["summary"]
    first = doc["first_failing"]
    h = escape
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>wasm-bisect {h(grid['template'])}: {h(_first_text(first))}</title>",
           f"<style>{_HTML_STYLE}</style></head><body>",
           f"<h1>wasm-bisect · {h(grid['template'])}</h1>",
           f'<p class="meta">{h(run["kind"])} run {h(run["id"])} · created {h(run["created"])} · '
           f"{summary['cells']} cells probed: {summary['good']} good, {summary['bad']} bad, {summary['skip']} skip, "
           f"{summary['error']} error</p>",
           f'<p class="finding"><strong>First failing pair:</strong> {h(_first_text(first))}']
    if first:
        out.append(f"<br><code>{h(first.get('reason') or '')}</code>")
        out += [f'<br><a href="{h(link)}">{h(link)}</a>' for link in first.get("compare") or []]
    out.append("</p>")
    if doc["reference_types"]["message"]:
        out.append(f"<p>Reference-types: {h(doc['reference_types']['message'])}</p>")
    out.append('<div class="grid">' + render_svg(doc, standalone=False) + "</div>")
    out += ["<h2>Reproduce</h2>", "<pre>"]
    if first:
        out.append(h(first["reproduce"]))
    out += [h(doc["reproduce"]["grid"]), "</pre>"]
    out += ["<h2>Cells</h2>", '<table class="cells"><tr><th>reference-types</th><th>runtime</th><th>rustc</th>'
            "<th>wasm-bindgen</th><th>verdict</th><th>stage</th><th>seconds</th><th>reason</th></tr>"]
    for cell in doc["cells"]:
        v = cell["verdict"]
        out.append(f'<tr class="row verdict-{v}"><td>{h(cell["reference_types"])}</td>'
                   f'<td>{h(runtime_of(cell))}</td><td>{h(cell["rustc"])}</td>'
                   f"<td>{h(cell['bindgen'])}</td><td><span class=\"badge\" style=\"background:{COLOURS[v]};"
                   f"color:{INK[v]}\">{h(v)}</span></td><td>{h(cell['stage'] or '')}</td>"
                   f"<td>{cell['seconds']:.1f}</td><td>{h(cell['reason'])}</td></tr>")
    out.append("</table>")
    env = doc.get("environment")
    if env:
        out.append("<h2>Environment</h2><pre>")
        for key in ("os", "node", "wasm_pack", "python"):
            if env.get(key):
                out.append(f"{key}: {h(str(env[key]))}")
        for name, version in (env.get("browsers") or {}).items():
            out.append(f"{h(name)}: {h(str(version))}")
        for tc in env.get("toolchains", []):
            out.append(f"\n{h(tc['spec'])}:\n{h(tc.get('rustc_vV') or tc.get('error') or 'unknown')}")
        out.append("</pre>")
    out += [f'<p class="meta">report schema {h(doc["schema"])} v{doc["schema_version"]}</p>', "</body></html>"]
    return xml_safe("\n".join(out) + "\n")
