"""What a person reads of a tool's output: the meaningful error line, and whether a check could not run at all.

Pure text functions over the output of node, browsers, cargo, rustc, wasm-pack, wasm-bindgen and shells. A
cell's `reason` is the thrown error's message, the panic message or `error[E...]`, never a runtime's trailer
(`Node.js v20`, stack frames, the source excerpt with its caret, the error object's fields).
"""

from __future__ import annotations

import regex

# Lines that never explain a failure: stack frames (V8 `at f (x:1:2)`, Firefox `f@url:1:2`), Node's trailer and
# the source excerpt it prints above an uncaught error, the fields of the error object it dumps after it.
_NOISE = regex.compile(
    r"""^(
        at\s.*                                   # V8 frame
      | [^\s@]*@\S+:\d+(:\d+)?                   # Firefox / Safari frame
      | Node\.js\ v\d+(\.\d+)*                   # Node's trailer after an uncaught error
      | [\^~\s]+                                 # the caret under the source excerpt
      | (file://|node:internal/)\S*:\d+          # where Node says the throw was
      | throw\ err;
      | (code|requireStack|url|errno|syscall|path|cause|\[cause\]|generatedMessage|actual|expected|operator|
         digest|input|reason)\s*:.*                # fields of the dumped error object
      | [{}\[\],]+                               # its braces
      | Require\ stack:
      | -\ /\S+                                  # the require stack's entries
      | For\ more\ information\ about\ this\ error.*
      | note:\ run\ with\ `RUST_BACKTRACE.*
      | stack\ backtrace:
      | \d+:\ .*                                 # a Rust backtrace's numbered frame
      | note:\ Some\ details\ are\ omitted.*
    )$""",
    regex.VERBOSE,
)
# Lines that say what went wrong, strongest first in `reason_line`: a thrown JS error, a Rust error or panic,
# a failed test, npm's own error.
_ERROR = regex.compile(
    r"""^(
        (Uncaught\s+)?(\w*Error|\w*Exception|Error)(\s\[\w+\])?:\s*\S.*   # TypeError: ..., Error [CODE]: ...
      | error(\[E\d{4}\])?:(\s.*)?                                        # rustc, cargo, wasm-bindgen
      | thread\s'.*'.*\spanicked\sat.*                                      # a Rust panic (old and new form)
      | panicked\sat\s.*
      | FAIL\b.*
      | npm\s(ERR!|error)\s\S.*
    )$""",
    regex.VERBOSE,
)
# Error lines that only say that something above failed.
_GENERIC = regex.compile(
    r"^(error: (could not compile|aborting due to|failed to run custom build command|Compiling your crate)"
    r"|Error: (Compiling your crate to WebAssembly failed|Running the wasm-bindgen CLI)"
    r"|npm (ERR!|error) (A complete log|code|path|command|workspace|location|Lifecycle|errno|To see|\s*$))")
MAX_REASON = 300


def reason_line(output: str) -> str:
    """The line of `output` that best says what went wrong (or, for a pass, what the check said last)."""
    lines = [ln.strip() for ln in output.splitlines()]
    meaningful = [ln for ln in lines if ln and not _NOISE.match(ln)]
    errors = [i for i, ln in enumerate(meaningful) if _ERROR.match(ln) and not _GENERIC.match(ln)]
    if errors:
        i = errors[-1]
        line = meaningful[i]
        panic = line.startswith("panicked at") or (line.startswith("thread '") and line.rstrip().endswith(":"))
        if panic and i + 1 < len(meaningful):
            # Rust >= 1.73 prints the panic message on the line after `panicked at file:line:col:`.
            return meaningful[i + 1][:MAX_REASON]
        if line.rstrip().endswith(":") and i + 1 < len(meaningful) and not _ERROR.match(meaningful[i + 1]):
            return f"{line} {meaningful[i + 1]}"[:MAX_REASON]  # `error:` with its words on the next line
        return line[:MAX_REASON]
    return meaningful[-1][:MAX_REASON] if meaningful else ""


# The check itself could not start or could not load its own files: the command or script is missing, not
# executable, or not a module Node can load; a dependency of the check is not installed; npm has no such script.
_CANNOT_RUN = (
    # (`FAIL: ` is how the tool's own Node runner reports a check module that did not load)
    regex.compile(r"^(FAIL: )?Error: Cannot find module '(?P<what>[^']+)'", regex.MULTILINE),
    regex.compile(r"^(FAIL: )?Error \[ERR_MODULE_NOT_FOUND\]: Cannot find (module|package) '(?P<what>[^']+)'",
                  regex.MULTILINE),
    regex.compile(r"^(FAIL: )?TypeError \[ERR_UNKNOWN_FILE_EXTENSION\]: Unknown file extension \"\S+\" for "
                  r"(?P<what>\S+)", regex.MULTILINE),
    regex.compile(r"^npm (ERR!|error) Missing script: \"?(?P<what>[^\"\n]+)\"?", regex.MULTILINE),
    regex.compile(r"^npm (ERR!|error) (enoent|code ENOENT).*?(?P<what>\S*package\.json)", regex.MULTILINE),
    regex.compile(r"can't open file '(?P<what>[^']+)': \[Errno 2\]"),  # python
    regex.compile(r"^\S+: (\d+: )?cannot open (?P<what>\S+): No such file", regex.MULTILINE),  # sh
    regex.compile(r"^\S+: (line \d+: )?(?P<what>\S+): (No such file or directory|Permission denied)$",
                  regex.MULTILINE),  # bash
)
CANNOT_RUN_EXITS = {126: "found but not executable", 127: "command not found"}


def cannot_run(output: str, returncode: int | None, *, build_output: str | None = None) -> str | None:
    """Why the check could not run (None: it ran and judged). A missing file inside `build_output` (the
    wasm-pack output directory) is not the check's own: the built package may really be broken, so it is judged."""
    for pattern in _CANNOT_RUN:
        found = pattern.search(output)
        if found is None:
            continue
        what = found.group("what")
        if build_output and build_output.rstrip("/") + "/" in what.removeprefix("file://"):
            continue
        return f"{reason_line(found.group(0))} ({_whose(pattern)})"
    if returncode in CANNOT_RUN_EXITS:
        return f"exit {returncode}, {CANNOT_RUN_EXITS[returncode]}: {reason_line(output) or 'no output'}"
    return None


def _whose(pattern: regex.Pattern[str]) -> str:
    text = pattern.pattern
    if "npm" in text:
        return "npm could not run the script"
    if "Errno" in text or "cannot open" in text or "No such file or directory" in text:
        return "the check's script could not be opened"
    return "the check could not load a file or package it needs"
