"""`wasm-bisect serve CELL`, and the --page/--open options of `--prompt`: a built cell's page to look at."""

from __future__ import annotations

import signal
import sys
import threading
import webbrowser
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from wasm_bisect.cli._common import QuietOpt, StoreOpt, VerboseOpt
from wasm_bisect.cli.report import open_store
from wasm_bisect.domain.errors import UsageError
from wasm_bisect.runs import serve as serving
from wasm_bisect.util import log

PageOpt = Annotated[Path | None, typer.Option(
    "--page", metavar="PATH", help="With --prompt: the HTML page to serve with each built cell (crate mode; a "
    "template names its own with `page`). It imports the build as ./pkg/NAME.js.")]
OpenOpt = Annotated[bool, typer.Option("--open", help="With --prompt: open each cell's page in the system "
                                       "browser (its URL is printed either way).")]


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_cmd)


def pages(reproducer: Any, *, prompt: bool, page: Path | None, open_browser: bool) -> serving.PageFor | None:
    """What `--prompt` serves with each cell (None: no page); --page/--open without --prompt are refused."""
    if not prompt:
        if page is not None or open_browser:
            raise UsageError(f"{'--page' if page is not None else '--open'} shows a page while --prompt asks",
                             hint="add --prompt, or look at a stored cell with `wasm-bisect serve CELL`")
        return None
    return serving.pages_for(reproducer, page=serving.check_page(page), open_browser=open_browser)


def serve_cmd(
    cell: Annotated[str, typer.Argument(metavar="RUSTC@BINDGEN[:SETTING]", help="The cell, e.g. "
                                        "debian:1.96.0@0.2.95 (as `mark` takes it).")],
    run: Annotated[str | None, typer.Option("--run", metavar="RUN", help="Run id (a unique prefix; default: the "
                                            "newest run).")] = None,
    page: Annotated[Path | None, typer.Option("--page", metavar="PATH", help="The HTML page to serve the build "
                                              "with (default: the template's `page`).")] = None,
    open_browser: Annotated[bool, typer.Option("--open", help="Open the page in the system browser.")] = False,
    store_path: StoreOpt = None,
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Serve a stored cell's build with its page on 127.0.0.1 until Ctrl-C, to look at it in a browser."""
    given = serving.check_page(page)
    store = open_store(store_path)
    found = serving.stored_cell(store, cell, run_id=run, page=given)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with serving.serve(found) as url:
            log.info(escape(f"run {found.run.run_id}: {cell} ({found.outcome.verdict}: {found.outcome.reason})"))
            log.info(escape(f"serving {found.page.name} with {found.pkg_dir}; Ctrl-C stops"))
            sys.stdout.write(f"{url}\n")
            sys.stdout.flush()
            if open_browser:
                webbrowser.open(url)
            while not stop.wait(0.5):
                pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    log.info("stopped")
