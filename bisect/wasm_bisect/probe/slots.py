"""Cargo target directories reused across probes: one family of slots per toolchain and RUSTFLAGS, one slot per
concurrent build, and marks of which wasm-bindgen release a slot compiled already (a hint for the cost-aware
search; pruning a slot forgets them).
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from pathlib import Path

from wasm_bisect.domain.model import Variant
from wasm_bisect.probe.rustflags import codegen_flags
from wasm_bisect.toolchains import Toolchain
from wasm_bisect.util import fs, paths


@contextlib.contextmanager
def target_slot(toolchain: Toolchain, rustflags: list[str]) -> Iterator[Path]:
    """A cargo target dir reused across variants of one toolchain, one per concurrent build.

    Reuse saves recompiling proc-macro dependencies on every probe; one dir per slot keeps -j N builds from
    queueing on cargo's build-directory lock.
    """
    base = slot_family(toolchain, rustflags)
    slot = 0
    while True:
        lock = fs.lock(f"target-{base.name}-{slot}", timeout=0)
        try:
            lock.acquire()
        except Exception:
            slot += 1
            continue
        try:
            yield base / f"slot{slot}"
        finally:
            lock.release()
        return


def slot_family(toolchain: Toolchain, rustflags: list[str]) -> Path:
    """The directory of a toolchain's target slots for these RUSTFLAGS."""
    # One family of slots per RUSTFLAGS: a flag change would otherwise rebuild every dependency.
    flags = hashlib.sha256(" ".join(rustflags).encode()).hexdigest()[:8]
    spec = str(toolchain.spec).replace(":", "-").replace("/", "_")
    return paths.work_dir() / "targets" / f"{spec}-{flags}"


WARM_MARKS = ".wasm-bisect-warm"  # inside a slot: pruning the slot forgets them


def _warm_name(variant: Variant) -> str:
    label = variant.bindgen.label() if variant.bindgen.kind == "crates" else variant.bindgen.version
    return "".join(c if c.isalnum() or c in "-._" else "_" for c in f"{label}-{variant.options.profile}")


def mark_warm(slot: Path, variant: Variant) -> None:
    """Note that `slot` has compiled the dependency set of this wasm-bindgen release and profile."""
    marks = slot / WARM_MARKS
    marks.mkdir(parents=True, exist_ok=True)
    (marks / _warm_name(variant)).touch()


def is_warm(variant: Variant, toolchain: Toolchain) -> bool:
    """Whether some target slot of the variant's toolchain and flags compiled its wasm-bindgen already."""
    rustflags, _ = codegen_flags(variant, toolchain)
    if rustflags is None:
        return False
    name = _warm_name(variant)
    family = slot_family(toolchain, rustflags)
    return any((slot / WARM_MARKS / name).is_file() for slot in family.glob("slot*"))
