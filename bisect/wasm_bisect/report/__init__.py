"""Reports of a run: `load` reads a run from the store into one document; `render` turns it into a format.

The document (schema in docs/report-schema.md) is the public contract: `SCHEMA`, `SCHEMA_VERSION`,
`document`, `comparable` and `render` are what tools built on wasm-bisect use.
"""

from wasm_bisect.report.document import (
    FORMATS,
    SCHEMA,
    SCHEMA_VERSION,
    VERDICTS,
    RunInfo,
    analyse,
    cell_from,
    comparable,
    document,
    reference_types_effect,
    setting_key,
    setting_label,
    variant_from_identity,
)
from wasm_bisect.report.formats import (
    render,
    render_html,
    render_json,
    render_junit,
    render_markdown,
    render_svg,
    svg_size,
)
from wasm_bisect.report.loader import collect_environment, load, template_info

__all__ = [
    "FORMATS",
    "SCHEMA",
    "SCHEMA_VERSION",
    "VERDICTS",
    "RunInfo",
    "analyse",
    "cell_from",
    "collect_environment",
    "comparable",
    "document",
    "load",
    "reference_types_effect",
    "render",
    "render_html",
    "render_json",
    "render_junit",
    "render_markdown",
    "render_svg",
    "setting_key",
    "setting_label",
    "svg_size",
    "template_info",
    "variant_from_identity",
]
