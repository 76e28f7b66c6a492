"""Project sessions: lint, typecheck, unit tests, real end-to-end tests, the demo bisect, benchmarks, CI."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import nox

nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True

PYTHON = "3.11"
# The demo grid: the built-in #4352 reproducer over two real compilers and eight wasm-bindgen releases.
DEMO_ARGS = [
    "bisect", "--template", "vec-of-structs",
    "--rustc", "debian:1.63.0,debian:1.96.0",
    "--bindgen", "0.2.91..0.2.99",
    "--reference-types", "both",
    "--jobs", "2",  # the machine kind has 2 cores: provisioning, tool builds and probes overlap
]


def _reliability_needs() -> tuple[tuple[str, ...], ...]:
    """tests/fixtures/needs.py's list (read from the file: the test dependencies are not installed here)."""
    spec = importlib.util.spec_from_file_location("needs", Path(__file__).parent / "tests" / "fixtures" / "needs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    needed: tuple[tuple[str, ...], ...] = module.NEEDED
    return needed


def _install(session: nox.Session, *extras: str) -> None:
    spec = f".[{','.join(extras)}]" if extras else "."
    session.install("-e", spec)


LINT_PATHS = ("bisect", "tests", "benchmarks", "examples", "noxfile.py")


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff over the package, tests, benchmarks and this file; import-linter over the layers (pyproject.toml)."""
    session.install("ruff>=0.6", "import-linter>=2.1")
    session.run("ruff", "check", *LINT_PATHS)
    session.run("lint-imports", env={"PYTHONPATH": "bisect"})


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict over the package."""
    _install(session, "dev")
    session.run("mypy")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Fast unit tests: no real toolchain work (fakes only)."""
    _install(session, "test")
    session.run("pytest", "-m", "not real", *session.posargs)


@nox.session(python=PYTHON)
def real(session: nox.Session) -> None:
    """End-to-end tests on real toolchains: provisions rustc 1.63.0/1.96.0 (and 1.85.0 to build the CLIs below
    wasm-bindgen 0.2.88), builds CLIs, probes, bisects."""
    _install(session, "test")
    session.run("pytest", "-m", "real", "-v", "-s", "--durations=0", *session.posargs)


@nox.session(python=PYTHON)
def reliability(session: nox.Session) -> None:
    """Reliability and security: bad input, hangs, interrupts, concurrency, corruption, hostile content, fuzzing.

    Real builds on the provisioned toolchains, in private homes linked to the machine's caches (see
    docs/reliability.md); as root it also mounts a tiny tmpfs to run a build out of disk space.
    """
    _install(session, "test")
    session.run("pytest", "tests/reliability", "-v", "-rs", "--durations=10", *session.posargs)


def _installed_venv(session: nox.Session) -> Path:
    """Build the wheel and install it (not `-e`) with nox into a fresh venv; return the venv."""
    session.install("build")
    tmp = Path(session.create_tmp()).resolve()
    dist = tmp / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    session.run("python", "-m", "build", "--wheel", "--outdir", str(dist), ".")
    wheels = sorted(dist.glob("wasm_bisect-*.whl"))
    if len(wheels) != 1:
        session.error(f"expected one wheel in {dist}, found {wheels}")
    venv = tmp / "installed-venv"
    session.run("python", "-m", "venv", "--clear", str(venv))
    session.run(str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheels[0]), "nox", external=True)
    return venv


@nox.session(python=PYTHON)
def installed(session: nox.Session) -> None:
    """The tool as users install it: wheel into a fresh venv, templates, examples' noxfile, one real probe."""
    _install(session, "test")
    venv = _installed_venv(session)
    session.run("pytest", "tests/installed", "-v", "-rs", *session.posargs,
                env={"WASM_BISECT_INSTALLED_VENV": str(venv)})


@nox.session(python=PYTHON)
def demo(session: nox.Session) -> None:
    """The main job: a real bisect of the built-in #4352 reproducer (vec-of-structs)."""
    _install(session)
    session.run("wasm-bisect", *DEMO_ARGS, *session.posargs)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmarks: each appends a run to benchmarks/results/<name>.json, then the README table is regenerated."""
    _install(session, "test")
    session.run("python", "benchmarks/search_bench.py", "benchmarks/results/search.json")
    session.run("python", "benchmarks/driver_bench.py", "benchmarks/results/driver.json")
    session.run("python", "benchmarks/cost_bench.py", "benchmarks/results/costs.json")
    session.run("python", "benchmarks/probe_bench.py", "benchmarks/results/probe.json", *session.posargs)
    session.run("python", "benchmarks/runtime_bench.py", "benchmarks/results/runtime.json", *session.posargs)
    session.run("python", "benchmarks/readme_table.py")


# Every benchmark script, smallest first. `--smoke`: one round on the smallest grid, every figure computed,
# nothing written; the real ones use the machine's provisioned toolchains and tools (the cold one links the tools
# into its empty home, the toolbuild one builds into the tool cache's own slot).
BENCH_SCRIPTS = ("search_bench", "driver_bench", "cost_bench", "probe_bench", "runtime_bench", "jobs_bench",
                 "toolbuild_bench", "cold_bench")


def _bench_smoke(session: nox.Session) -> None:
    for script in BENCH_SCRIPTS:
        session.run("python", f"benchmarks/{script}.py", "--smoke")


@nox.session(python=PYTHON)
def bench_smoke(session: nox.Session) -> None:
    """Every benchmark script in smoke mode (as `nox -s ci` runs them after the real suite): it fails on an
    exception or a figure it cannot compute, and writes no results."""
    _install(session, "test")
    _bench_smoke(session)


@nox.session(python=PYTHON)
def cold_bench(session: nox.Session) -> None:
    """Opt-in, never CI: the demo on an empty tool home and CARGO_HOME (every toolchain, tool and crate fetched and
    built) and warm, each next to the tool's --dry-run estimate; appends a run to benchmarks/results/cold.json.
    Before/after a change, side by side in one run: `nox -s cold_bench -- --before REF` (a git ref of this repo)."""
    _install(session, "test")
    session.run("python", "benchmarks/cold_bench.py", *session.posargs)


@nox.session(python=PYTHON)
def toolbuild_bench(session: nox.Session) -> None:
    """Opt-in: the wasm-bindgen CLI build profiles side by side (build time, the CLI's run time on a real module,
    target-dir reuse by a neighbouring release); appends a run to benchmarks/results/toolbuild.json."""
    _install(session, "test")
    session.run("python", "benchmarks/toolbuild_bench.py", *session.posargs)


@nox.session(python=PYTHON)
def jobs_bench(session: nox.Session) -> None:
    """Opt-in: a real bisect with -j 2 against -j 1 (private stores, tools cached), alternating; appends a run to
    benchmarks/results/jobs.json."""
    _install(session, "test")
    session.run("python", "benchmarks/jobs_bench.py", *session.posargs)


@nox.session(python=PYTHON)
def bench_table(session: nox.Session) -> None:
    """Regenerate README.md's benchmark table from benchmarks/results/*.json (no benchmark is run)."""
    session.run("python", "benchmarks/readme_table.py")


@nox.session(python=PYTHON)
def update_pins(session: nox.Session) -> None:
    """Refresh the bundled wasm-bindgen release list (with yanked flags) from the crates.io index."""
    _install(session)
    session.run("python", "-c", UPDATE_PINS)


UPDATE_PINS = """
from pathlib import Path
from wasm_bisect.bindgen import index
from wasm_bisect.domain import versions
releases = index.fetch_releases()
target = Path("bisect/wasm_bisect/data/bindgen_versions.toml")
target.write_text(versions.releases_to_toml(releases, header="wasm-bindgen releases from the crates.io index "
                  "(library and CLI yanked flags); refresh with: nox -s update_pins"))
print(f"{len(releases)} releases written to {target}")
"""


@nox.session(python=PYTHON)
def ci(session: nox.Session) -> None:
    """Everything CI runs, in order: lint, typecheck, unit, provisioning, reliability, real, every benchmark in
    smoke mode, installed; a skip anywhere fails."""
    _install(session, "test", "dev")
    session.run("ruff", "check", *LINT_PATHS)
    session.run("lint-imports", env={"PYTHONPATH": "bisect"})
    session.run("mypy")
    no_skips = {"WASM_BISECT_CI": "1"}  # tests/conftest.py: under it a skipped test fails the stage
    session.run("pytest", "-m", "not real", "-q", "-rs", env=no_skips)
    # What both slow suites build first (the reliability suite's own list), once, before they start: its
    # progress is shown, and no test's time limit includes it.
    for args in _reliability_needs():
        session.run("python", "-m", "wasm_bisect", *args)
    session.run("pytest", "tests/reliability", "-q", "-rs", "--durations=10", env=no_skips)
    session.run("pytest", "-m", "real", "-v", "-s", "-rs", "--durations=0", env=no_skips)
    _bench_smoke(session)
    venv = _installed_venv(session)
    session.run("pytest", "tests/installed", "-v", "-rs", env={**no_skips, "WASM_BISECT_INSTALLED_VENV": str(venv)})
