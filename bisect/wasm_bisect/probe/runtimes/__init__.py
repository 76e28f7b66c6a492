"""Runtimes of a check: Node (the tool's runner script) and real headless browsers (chromium, firefox).

One check contract for all: a module exporting `default async function check(pkg, params)` that returns on
success, throws on failure, and throws an error named `Skip` (or returns "skip") when it cannot test. The
runners turn that into git bisect's exit codes; `probe.check` classifies them the same way for every runtime.
"""

from wasm_bisect.probe.runtimes import bindgen_test_runner
from wasm_bisect.probe.runtimes.browser import PageRun, private_tmp, run_page
from wasm_bisect.probe.runtimes.browsers import (
    BrowserPaths,
    check_available,
    configure,
    locate,
)
from wasm_bisect.probe.runtimes.node import install_runner, node_argv

__all__ = ["BrowserPaths", "PageRun", "bindgen_test_runner", "check_available", "configure", "install_runner", "locate",
           "node_argv", "private_tmp", "run_page"]
