"""How a finding is redone and read upstream: the reproduce commands and the compare links. Pure.

Every report, the bisect summary and the CLI take these from here, so a pasted command is the same
everywhere and always shell-safe (values are free text: a pasted command must not run parts of them).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from typing import Any

from wasm_bisect.domain.model import Variant
from wasm_bisect.domain.versions import is_exact_version

BINDGEN_COMPARE = "https://github.com/wasm-bindgen/wasm-bindgen/compare/{a}...{b}"
RUST_COMPARE = "https://github.com/rust-lang/rust/compare/{a}...{b}"


def probe_command(variant: Variant, *, template: str | None = None, reproducer: Sequence[str] | None = None) -> str:
    """`wasm-bisect probe ...` for one cell. `reproducer` names the reproducer as a command would (`--template DIR`,
    `--crate DIR --package P --check CMD ...`); else `--template` with `template` (default: the variant's name)."""
    named = list(reproducer) if reproducer else ["--template", template or variant.template]
    parts = ["wasm-bisect", "probe", *named, "--rustc", str(variant.rustc),
             "--bindgen", variant.bindgen.label(), "--reference-types", str(variant.reference_types)]
    for name, value in variant.params:
        parts += ["--param", f"{name}={value}"]
    options = variant.options
    if options.build_failure != "skip":
        parts += ["--build-failure", options.build_failure]
    if options.profile != "release":
        parts += ["--profile", options.profile]
    return shlex.join(parts)


def matrix_command(grid: Mapping[str, Any], *, template: str | None = None,
                   reproducer: Sequence[str] | None = None) -> str:
    """`wasm-bisect matrix ...` over a grid identity (`Grid.identity()` or a report's grid)."""
    named = list(reproducer) if reproducer else ["--template", template or str(grid["template"])]
    parts = ["wasm-bisect", "matrix", *named,
             "--rustc", ",".join(grid["rustc"]), "--bindgen", ",".join(grid["bindgen"]),
             "--reference-types", ",".join(grid["reference_types"])]
    for name, value in grid.get("params", []):
        parts += ["--param", f"{name}={value}"]
    return shlex.join(parts)


def _version_of(rustc: str) -> str:
    return rustc.rpartition(":")[2]


def compare_links(last_good_bindgen: str | None, bindgen: str, last_good_rustc: str | None, rustc: str
                  ) -> list[str]:
    """Upstream compare views between the last good and the first bad version of each axis (releases only)."""
    links = []
    if last_good_bindgen and is_exact_version(last_good_bindgen) and is_exact_version(bindgen):
        links.append(BINDGEN_COMPARE.format(a=last_good_bindgen, b=bindgen))
    old, new = _version_of(last_good_rustc or ""), _version_of(rustc)
    if last_good_rustc and is_exact_version(old) and is_exact_version(new):
        links.append(RUST_COMPARE.format(a=old, b=new))
    return links


def shell_join(argv: Sequence[str]) -> str:
    return shlex.join(argv)
