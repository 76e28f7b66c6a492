"""From settings to what a run needs: the reproducer, the grid (or the one cell's runtime), the toolchains and
tools checked. Every command used to repeat these steps; they live here, in the order that decides which bad
input is reported first: syntax (offline), then the reproducer and the machine (browsers, tools), then the
providers' versions and the release list. Opening the store stays with the command (a dry run opens none).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from wasm_bisect import config, toolchains
from wasm_bisect.bindgen import index, toolcache
from wasm_bisect.domain.errors import UsageError
from wasm_bisect.domain.grid import Grid, parse_bindgen_axis, parse_rustc_axis, rustc_items
from wasm_bisect.domain.model import ReferenceTypes, Runtime, Terms, ToolchainSpec
from wasm_bisect.probe import crate as crate_mode
from wasm_bisect.probe import runtimes as browser_runtimes
from wasm_bisect.probe import templates
from wasm_bisect.probe.reproducer import Reproducer
from wasm_bisect.runs import bisect

__all__ = [
    "BisectSetup",
    "GridPlan",
    "SinglePlan",
    "bisect_setup",
    "grid_plan",
    "make_grid",
    "reproducer",
    "runtimes",
    "rustc_axis",
    "single_plan",
    "single_runtime",
    "use_browsers",
    "use_tools",
]


@dataclass(frozen=True, kw_only=True)
class GridPlan:
    """What a grid command (bisect, matrix) runs besides its reproducer: the expanded grid."""

    grid: Grid


@dataclass(frozen=True, kw_only=True)
class BisectSetup:
    """What `bisect` runs besides its reproducer: the plan (its grid boxed by --good/--bad), the releases known."""

    plan: bisect.BisectPlan
    known_releases: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class SinglePlan:
    """Where a single-runtime command (probe, verify, bisect-commits) checks (and a probe's one cell)."""

    runtime: Runtime
    rustc: ToolchainSpec | None = None  # a single cell's (probe)
    reference_types: ReferenceTypes | None = None


def reproducer(chosen: config.Settings) -> Reproducer:
    """The reproducer the settings name: the user's crate (`crate`), else the template with any check flags.

    Everything is checked here, before any build: a bad project, package, feature or check command is bad input.
    """
    if chosen.crate is not None:
        return crate_mode.load(chosen.crate, selection=chosen.selection, overrides=chosen.check)
    tmpl = templates.load(chosen.template).with_check(chosen.check)
    tmpl.require_check()
    return tmpl


def runtimes(chosen: config.Settings, template: Reproducer) -> tuple[Runtime, ...]:
    """The runtimes to check in. Unless the user chose, a template that cannot run in Node (a browser-only
    bug) runs in the first runtime it lists; a runtime the template does not list is bad input."""
    if not chosen.from_user("runtime") and Runtime.NODE not in template.runtimes:
        return template.runtimes[:1]
    for runtime in chosen.runtimes:
        template.check_runtime(runtime)
    return chosen.runtimes


def single_runtime(chosen: config.Settings, template: Reproducer) -> Runtime:
    """The one runtime of a single-axis command (probe, bisect, verify, bisect-commits)."""
    parsed = runtimes(chosen, template)
    config.check_single(chosen, "runtime", chosen.runtime_text, len(parsed), "chromium")
    return parsed[0]


def use_browsers(chosen: config.Settings, wanted: tuple[Runtime, ...]) -> None:
    """Point the browser runtimes at the user's binaries and fail now (one line, exit 2) if one is missing."""
    browser_runtimes.configure(chosen.browser_paths)
    browser_runtimes.check_available(wanted)


def use_tools(chosen: config.Settings) -> None:
    """Where this run's missing tools come from (`--tools`, `tools` in the config)."""
    toolcache.set_tool_source(chosen.tools)


def rustc_axis(text: str) -> tuple[ToolchainSpec, ...]:
    """A rustc axis; a range picks from its provider's versions, not every X.Y.0 in between. The syntax is
    checked first, offline; a provider is asked only for the providers of range items."""
    items = rustc_items(text)
    available = {p: toolchains.provider(p).available() for p in dict.fromkeys(i.provider for i in items
                                                                              if i.is_range)}
    return parse_rustc_axis(text, available=available)


def make_grid(chosen: config.Settings, *, notice: Callable[[str], None] | None = None,
              rustc: tuple[ToolchainSpec, ...] | None = None, chosen_reproducer: Reproducer | None = None) -> Grid:
    """Expand the axes into a Grid: syntax first (offline), then the provider's versions for rustc ranges (or
    the `rustc` axis the caller already expanded and checked) and the release index for wasm-bindgen."""
    if chosen.rustc is None or chosen.bindgen is None:
        raise UsageError("no rustc axis" if chosen.rustc is None else "no wasm-bindgen axis",
                         hint="give --rustc and --bindgen")
    config.check_axes(chosen)
    tmpl = chosen_reproducer if chosen_reproducer is not None else reproducer(chosen)
    rustc = rustc if rustc is not None else rustc_axis(chosen.rustc)
    bindgen = parse_bindgen_axis(chosen.bindgen, releases=index.releases(notice=notice),
                                 include_yanked=chosen.allow_yanked)
    if not rustc or not bindgen:
        raise UsageError("the grid is empty", hint="widen --rustc or --bindgen")
    return Grid(template=tmpl.name, rustc=rustc, bindgen=bindgen, reference_types=chosen.reference_types,
                options=chosen.options, params=tmpl.param_values(chosen.params), runtimes=runtimes(chosen, tmpl))


def grid_plan(chosen: config.Settings, tmpl: Reproducer, *, one_runtime: bool, machine: bool = True,
              notice: Callable[[str], None] | None = None) -> GridPlan:
    """After the reproducer (`reproducer`, then the command's own checks of it): with `machine` the browsers and
    tools it needs, the axes' syntax, what the providers can supply, and the grid (the release list last).
    `one_runtime`: the command checks in one runtime only; `machine=False` (a CI planner) asks neither the
    machine nor the providers."""
    if machine:  # a missing browser is bad input: said before the providers are asked
        use_browsers(chosen, (single_runtime(chosen, tmpl),) if one_runtime else runtimes(chosen, tmpl))
        use_tools(chosen)
    config.check_axes(chosen)
    rustc_specs = None
    if machine and chosen.rustc is not None:
        rustc_specs = rustc_axis(chosen.rustc)
        toolchains.check_known(rustc_specs)  # what the providers can supply, before the release list is fetched
    grid = make_grid(chosen, notice=notice, rustc=rustc_specs, chosen_reproducer=tmpl)
    return GridPlan(grid=grid)


def single_plan(chosen: config.Settings, tmpl: Reproducer, *, cell: bool = False) -> SinglePlan:
    """After the reproducer (`reproducer`, then the command's own checks of it): with `cell` the one rustc and
    reference-types setting of a single cell, then its one runtime and the browsers and tools that needs."""
    spec = config.single_rustc(chosen) if cell else None
    setting = config.single_reference_types(chosen) if cell else None
    where = single_runtime(chosen, tmpl)
    use_browsers(chosen, (where,))
    use_tools(chosen)
    return SinglePlan(runtime=where, rustc=spec, reference_types=setting)


def bisect_setup(chosen: config.Settings, tmpl: Reproducer, *, good: tuple[str, str] | None,
                 bad: tuple[str, str] | None, find_fix: bool, follow_up: bool, repeat: int, threshold: int | None,
                 terms: Terms | None,
                 notice: Callable[[str], None], progress: Callable[[str], None]) -> BisectSetup:
    """`grid_plan` in one runtime, then the release list, the --good/--bad box and its orientation, the grid's
    own checks and what the providers know of its toolchains (nothing provisioned): all bad input fails here,
    before a run is started in the store."""
    planned = grid_plan(chosen, tmpl, one_runtime=True, notice=notice)
    releases = index.releases(notice=notice)
    box = bisect.restrict(planned.grid, good, bad)
    orientation = bisect.given_orientation(planned.grid, good, bad, find_fix=find_fix)
    bisect.check_grid(box)
    toolchains.prepare(box.rustc, provision=False, progress=progress)
    return BisectSetup(known_releases=tuple(r.version for r in releases),
                       plan=bisect.BisectPlan(grid=box, find_fix=find_fix, jobs=chosen.jobs,
                                              allow_yanked=chosen.allow_yanked, follow_up=follow_up, repeat=repeat,
                                              threshold=threshold, orientation=orientation, terms=terms))
