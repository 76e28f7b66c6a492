"""A page to look at (issue 25, item 2): a built cell's wasm-pack output served with the reproducer's page.

`--prompt` serves the page of each cell while its question is open (`pages_for`); `wasm-bisect serve CELL`
serves a stored cell's build until Ctrl-C (`stored_cell`, `page_of_stored`). The server itself is
probe/runtimes/eye.py.
"""

from __future__ import annotations

import contextlib
import tomllib
import webbrowser
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wasm_bisect.domain.errors import UsageError
from wasm_bisect.domain.model import Outcome, Variant
from wasm_bisect.probe.runtimes import eye
from wasm_bisect.store import Run, Store

__all__ = ["PageFor", "StoredCell", "page_of", "pages_for", "serve", "stored_cell"]

# The page of a cell while a person judges it: a context yielding its URL, or None (no page, nothing built).
PageFor = Callable[[Variant, Outcome], AbstractContextManager[str | None]]


def _page_name(reproducer: Any) -> str | None:
    page = getattr(reproducer, "page", None)
    return page if isinstance(page, str) and page else None


def page_of(outcome: Outcome, *, name: str | None, given: Path | None, root: Path | None) -> Path | None:
    """The page to serve with a built cell: `given` (`--page`), else the template's page `name` in the cell's
    rendered crate (what was built), else in the template directory `root`; None when there is none."""
    if given is not None:
        return given
    if name is None:
        return None
    for base in (Path(outcome.crate_dir) if outcome.crate_dir else None, root):
        if base is not None and (base / name).is_file():
            return base / name
    return None


def _pkg_dir(outcome: Outcome) -> Path | None:
    pkg = outcome.evidence.get("pkg_dir")
    return Path(pkg) if isinstance(pkg, str) and pkg and Path(pkg).is_dir() else None


def pages_for(reproducer: Any, *, page: Path | None = None, open_browser: bool = False,
              opener: Callable[[str], object] = webbrowser.open) -> PageFor | None:
    """How `--prompt` serves each cell's page, or None when the reproducer has none (no template `page` key and
    no `--page`): a cell that built nothing has no page either."""
    name = _page_name(reproducer)
    if page is None and name is None:
        return None
    root = getattr(reproducer, "root", None)

    @contextlib.contextmanager
    def served(variant: Variant, outcome: Outcome) -> Iterator[str | None]:
        del variant
        found = page_of(outcome, name=name, given=page, root=root if isinstance(root, Path) else None)
        pkg = _pkg_dir(outcome)
        if found is None or pkg is None:
            yield None
            return
        with eye.serve_page(found, pkg) as url:
            if open_browser:
                opener(url)
            yield url

    return served


def check_page(page: Path | None) -> Path | None:
    """`--page PATH`: an HTML file that exists (bad input, exit 2, before anything is built)."""
    if page is None:
        return None
    resolved = page.expanduser().resolve()
    if not resolved.is_file():
        raise UsageError(f"--page {page}: no such file", hint="name the HTML page that imports ./pkg/NAME.js")
    return resolved


def _stored_page_name(run: Run) -> str | None:
    """The `page` key of the template as the run kept it (its snapshot), else None."""
    snapshot = run.config.get("template_snapshot")
    files = snapshot.get("files") if isinstance(snapshot, dict) else None
    manifest = files.get("template.toml") if isinstance(files, dict) else None
    if not isinstance(manifest, str):
        return None
    try:
        page = tomllib.loads(manifest).get("page")
    except tomllib.TOMLDecodeError:
        return None
    return page if isinstance(page, str) and page and ".." not in Path(page).parts else None


@dataclass(frozen=True, kw_only=True)
class StoredCell:
    run: Run
    label: str  # the cell as the run's log shows it
    outcome: Outcome
    pkg_dir: Path
    page: Path


def _matches(variant: dict[str, Any], rustc: str, bindgen: str, setting: str | None) -> bool:
    stored_rustc = str(variant.get("rustc", ""))
    source = variant.get("bindgen")
    label = ""
    if isinstance(source, dict):
        label = str(source.get("label") or source.get("version") or source.get("text") or "")
    rustc_ok = rustc in (stored_rustc, stored_rustc.partition(":")[2])
    return rustc_ok and bindgen == label and (setting is None or setting == str(variant.get("reference_types")))


def stored_cell(store: Store, cell: str, *, run_id: str | None = None, page: Path | None = None) -> StoredCell:
    """The stored build of CELL (RUSTC@BINDGEN[:SETTING]) in run `run_id` (default: the newest), with its page;
    UsageError (one line, exit 2) when the cell was not built or its output is gone."""
    body, sep, tail = cell.strip().rpartition(":")
    setting = tail if sep and tail in ("default", "on", "off") else None
    text = body if setting else cell.strip()
    rustc, at, bindgen = text.rpartition("@")
    if not at or not rustc or not bindgen:
        raise UsageError(f"cell {cell!r} is not RUSTC@BINDGEN[:SETTING]", hint="e.g. debian:1.96.0@0.2.95")
    run = store.run(run_id)
    probes = [p for p in store.run_probes(run.run_id) if _matches(p.variant, rustc, bindgen, setting)]
    if not probes:
        raise UsageError(f"{cell} was not probed in run {run.run_id}",
                         hint="see its cells with `wasm-bisect log RUN`; name another run with --run")
    probe = probes[-1]
    outcome = probe.outcome
    pkg = outcome.evidence.get("pkg_dir")
    if not isinstance(pkg, str) or not pkg:
        raise UsageError(f"{cell} of run {run.run_id} was not built ({outcome.verdict}: {outcome.reason})",
                         hint="probe it again: its build is what `serve` shows")
    if not Path(pkg).is_dir():
        raise UsageError(f"the build of {cell} of run {run.run_id} is gone ({pkg})",
                         hint="probe it again with --fresh to build it anew")
    reproducer = run.config.get("reproducer")
    root = reproducer.get("root") if isinstance(reproducer, dict) else None
    found = page_of(outcome, name=_stored_page_name(run), given=page,
                    root=Path(root) if isinstance(root, str) else None)
    if found is None:
        raise UsageError(f"run {run.run_id} has no page to serve {cell} with",
                         hint="name one with --page PATH (an HTML page that imports ./pkg/NAME.js)")
    return StoredCell(run=run, label=cell, outcome=outcome, pkg_dir=Path(pkg), page=found)


@contextlib.contextmanager
def serve(found: StoredCell) -> Iterator[str]:
    """Serve a stored cell's build with its page for the `with` block; yields the URL."""
    with eye.serve_page(found.page, found.pkg_dir) as url:
        yield url
