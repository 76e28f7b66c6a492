"""The Typer app: thin commands that resolve settings, call one run of `runs/`, and print its typed result.

Domain errors become one line on stderr and an exit code here, in `main`, and nowhere else.
"""

from __future__ import annotations

import functools
import signal
import sys
from collections.abc import Callable
from typing import Annotated, Any

import typer
from typer._click.exceptions import NoArgsIsHelpError  # typer vendors click; this one it does not re-export

from wasm_bisect import __version__
from wasm_bisect.cli import bisect, cache, marks, matrix, probe, report, serve, templates, toolchain, tools, verify
from wasm_bisect.cli._common import QuietOpt, VerboseOpt
from wasm_bisect.domain.errors import WasmBisectError
from wasm_bisect.util import log, paths, processes

__all__ = ["app", "main"]

EXIT_CODES = ("Exit codes: 0 done (verify: FIXED); 1 a finding that fails (matrix --fail-on-bad with a bad cell; "
              "verify PARTIAL, NOT FIXED or REGRESSES); 2 bad input or environment (one line on stderr, nothing "
              "written); 3 no trustworthy answer (flaky check, verify INCONCLUSIVE, a bisect whose grid corners all "
              "fail the same way); 130 interrupted, or quit at a --prompt question (finished "
              "probes kept; the same command resumes).")

app = typer.Typer(
    name="wasm-bisect",
    help="Bisect rustc x wasm-bindgen x reference-types grids to the first failing pair, with real builds.",
    epilog=EXIT_CODES,
    no_args_is_help=True,  # `wasm-bisect` alone prints its help (stdout, exit 0: `_main`), like cargo
    context_settings={"help_option_names": ["-h", "--help"]},  # every command and group inherits both
    add_completion=True,
    pretty_exceptions_enable=False,
    # Off a terminal (a pipe, a file, CI), help is plain text wrapped at the width instead of panels cut with "…".
    rich_markup_mode="rich" if sys.stdout.isatty() else None,
)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"wasm-bisect {__version__}\n")
        raise typer.Exit


@app.callback()
def main_callback(
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    processes.set_echo(log.command)


for module in (toolchain, tools, templates, cache):
    module.register(app)
for module in (probe, bisect, matrix, report, marks, verify, serve):
    module.register(app)


def _text(value: object) -> str | None:
    """A help text given by us; None for typer's placeholders of unset values."""
    return value if isinstance(value, str) else None


def _first_paragraph(text: str) -> str:
    return " ".join(text.strip().split("\n\n")[0].split())


def _whole_short_help(typer_app: typer.Typer) -> None:
    """Command lists show each command's and group's whole first paragraph (click would cut it with "...")."""
    for command in typer_app.registered_commands:
        if command.short_help is None and command.callback is not None and command.callback.__doc__:
            command.short_help = _first_paragraph(command.callback.__doc__)
    for group in typer_app.registered_groups:
        instance = group.typer_instance
        if instance is not None:
            text = _text(group.help) or _text(instance.info.help)
            if _text(group.short_help) is None and _text(instance.info.short_help) is None and text:
                group.short_help = _first_paragraph(text)
            _whole_short_help(instance)


_whole_short_help(app)


def _home_checked(callback: Callable[..., Any]) -> Callable[..., Any]:
    """Run a command only once the tool's home is known to be usable (after its arguments parsed, so --help
    and usage errors come first)."""

    @functools.wraps(callback)
    def run(*args: Any, **kwargs: Any) -> Any:
        paths.check_home()
        return callback(*args, **kwargs)

    return run


def _check_home_first(typer_app: typer.Typer) -> None:
    """One place, every command (read-only ones too): a home that is a file or not writable is one line, exit 2."""
    for command in typer_app.registered_commands:
        if command.callback is not None:
            command.callback = _home_checked(command.callback)
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            _check_home_first(group.typer_instance)


_check_home_first(app)


_interrupted = False


def _interrupt(_signo: int, _frame: object) -> None:
    """SIGINT/SIGTERM/SIGHUP: stop every running build or check (also those of -j worker threads), then unwind."""
    global _interrupted  # noqa: PLW0603 - one process-wide flag, set from the signal handler
    _interrupted = True
    processes.cancel_all()
    raise KeyboardInterrupt


def main() -> None:
    """Console entry: one place turns domain errors into a one-line message and an exit code."""
    global _interrupted  # noqa: PLW0603
    _interrupted = False
    processes.reset_cancel()
    log.set_verbose(False)
    log.set_quiet(False)
    # SIGHUP (the terminal closed, an ssh session dropped) ends the run like SIGTERM: children are stopped too.
    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        _main()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _main() -> None:
    try:
        rc = app(standalone_mode=False, prog_name="wasm-bisect")  # also under `python -m wasm_bisect`
    except WasmBisectError as exc:
        log.error(exc.one_line())
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        log.error("interrupted; every finished probe is stored, re-run the same command to resume")
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except NoArgsIsHelpError as exc:  # a bare command or group: its help, readable, as `--help` prints it
        sys.stdout.write(exc.ctx.get_help() + "\n")
        sys.exit(0)
    except typer.Abort:
        log.error("aborted")
        sys.exit(130)
    except typer.TyperException as exc:  # click's usage errors, kept to one line like ours
        format_message = getattr(exc, "format_message", None)
        message = format_message() if callable(format_message) else str(exc)
        log.error(f"{message} (see --help)")
        sys.exit(int(getattr(exc, "exit_code", 2)))
    except RuntimeError as exc:  # pathlib's symlink loop where a path was not resolved with paths.resolve
        if not str(exc).startswith("Symlink loop from"):
            raise
        log.error(f"cannot use {str(exc).removeprefix('Symlink loop from ')}: it runs into a symlink loop. "
                  "point it at a real file or directory")
        sys.exit(2)
    except OSError as exc:  # an unusable home or output path: the environment, not a bug of ours
        where = f" {exc.filename}" if exc.filename else ""
        log.error(f"cannot use{where}: {exc.strerror or exc}")
        sys.exit(2)
    if _interrupted:  # typer turns KeyboardInterrupt into a silent exit code 130
        log.error("interrupted; every finished probe is stored, re-run the same command to resume")
        sys.exit(130)
    sys.exit(rc if isinstance(rc, int) else 0)
