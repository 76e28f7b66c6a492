"""Drive wasm-bisect from nox: one session per grid cell of wasm-bisect.toml, plus a report session.

    nox -l                                   # the cells, e.g. cell(debian:1.63.0@0.2.99@on)
    nox -s "cell(debian:1.63.0@0.2.99@on)"   # probe one cell for real, export it
    nox -s report                            # merge the exported cells, write the reports
    nox -l --json | wasm-bisect nox-matrix   # a GitHub Actions matrix, one job per cell

Each cell session exports its result to wasm-bisect-results/<cell>.sqlite3 (or $WASM_BISECT_EXPORT_DIR), so
cells run on different machines can be merged; see github-actions.yml next to this file.
"""

from __future__ import annotations

import nox

from wasm_bisect import noxsupport

CONFIG = "wasm-bisect.toml"  # relative to this file: nox runs sessions from the noxfile's directory


@nox.session(python=False)
@noxsupport.parametrize_cells(CONFIG)
def cell(session: nox.Session, cell: str) -> None:
    """Probe one grid cell (rustc@wasm-bindgen@reference-types) and export its result."""
    noxsupport.run_cell(session, cell, config=CONFIG)


@nox.session(python=False)
def report(session: nox.Session) -> None:
    """Merge every exported cell into one run and write Markdown, JUnit and HTML reports."""
    noxsupport.merge_and_report(session)
