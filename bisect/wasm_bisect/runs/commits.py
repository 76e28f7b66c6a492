"""Commit-level bisection inside wasm-bindgen: the first-parent commits between a good and a bad revision,
searched with the same engine as the release grid (search.least_failing / find_fix). The search is pure; `execute`
wires the git mirror, the oracle (which builds each commit's CLI and probes the reproducer) and the store.

A commit that cannot be tested (no wasm-bindgen crate, a CLI or crate that does not build) answers SKIP and the
search steps around it, like `git bisect skip`; it is never blamed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from wasm_bisect import search, toolchains
from wasm_bisect.bindgen import sources
from wasm_bisect.domain.errors import Untestable, UsageError, WasmBisectError
from wasm_bisect.domain.model import BuildOptions, ReferenceTypes, Runtime, ToolchainSpec, Variant, Verdict, options_for
from wasm_bisect.probe import Oracle
from wasm_bisect.probe.reproducer import Reproducer, run_config
from wasm_bisect.runs._events import QUIET, Events
from wasm_bisect.runs._fingerprint import fingerprint_of
from wasm_bisect.runs._locks import claim_run
from wasm_bisect.store import Store

COMMIT_URL = "https://github.com/wasm-bindgen/wasm-bindgen/commit/{sha}"


@dataclass(frozen=True)
class Commit:
    sha: str
    subject: str

    def __str__(self) -> str:
        return f"{self.sha[:12]} \"{self.subject}\""

    def to_json(self) -> dict[str, str]:
        return {"sha": self.sha, "subject": self.subject}


# Exit codes: found (or narrowed to a range around untestable commits) 0; ends that contradict the request or
# nothing testable 3, like SearchAborted.
_EXIT = {search.Status.FOUND: 0, search.Status.RANGE: 0}


def bisect(commits: Sequence[Commit], oracle: Callable[[Commit], Verdict], *, find_fix: bool = False
           ) -> search.Bisection[Commit]:
    """The first bad commit (or, with find_fix, the first commit that passes again); both ends are probed first."""
    if find_fix:
        return search.find_fix(commits, oracle, describe=str)
    return search.least_failing(commits, oracle, describe=str)


def result(found: search.Bisection[Commit], *, find_fix: bool, url: str) -> dict[str, Any]:
    """The JSON-able summary a person (and the store) reads."""
    items = found.items
    first = items[found.first_new] if found.first_new is not None else None
    last_old = items[found.last_old] if found.last_old is not None else None
    github = "github.com/wasm-bindgen/wasm-bindgen" in url or "github.com/rustwasm/wasm-bindgen" in url
    return {
        "mode": "find-fix" if find_fix else "regress",
        "status": str(found.status),
        "message": found.message,
        "terms": {"old": found.old_term, "new": found.new_term},
        "first": first.to_json() if first else None,
        "last_old": last_old.to_json() if last_old else None,
        "candidates": [items[i].to_json() for i in found.candidates],
        "commits": len(items),
        "probes": [{**items[p.index].to_json(), "verdict": str(p.verdict)} for p in found.log],
        "link": COMMIT_URL.format(sha=first.sha) if first and github else None,
        "exit_code": _EXIT.get(found.status, 3),
    }


def headline(data: dict[str, Any]) -> str:
    """One line naming the commit (or the range) the search ended on."""
    new = data["terms"]["new"]
    first = data["first"]
    if first:
        return f"first {new} commit: {first['sha'][:12]} {first['subject']}"
    if data["status"] == str(search.Status.RANGE):
        cands = data["candidates"]
        return (f"the first {new} commit is one of {len(cands)} (untestable commits hide it): "
                + ", ".join(c["sha"][:12] for c in cands))
    return str(data["message"])


# -- the run (I/O: git mirror, worktrees, the oracle, the store) --------------------------------------------
@dataclass(frozen=True, kw_only=True)
class CommitsRequest:
    template: Reproducer
    params: tuple[tuple[str, str], ...]
    options: BuildOptions
    rustc: ToolchainSpec
    reference_types: ReferenceTypes
    repo: str
    good: str
    bad: str
    find_fix: bool
    command: str
    runtime: Runtime = Runtime.NODE


@dataclass(frozen=True, kw_only=True)
class CommitsRun:
    """A finished commit bisection: the search's summary plus the run's record."""

    data: dict[str, Any]
    found: search.Bisection[Commit]

    @property
    def headline(self) -> str:
        return headline(self.data)

    @property
    def exit_code(self) -> int:
        return int(self.data["exit_code"])

    def to_json(self) -> dict[str, Any]:
        return dict(self.data)


def execute(request: CommitsRequest, open_store: Callable[[], Store], events: Events = QUIET) -> CommitsRun:
    """Mirror the repository, list the first-parent commits, bisect them (resuming an interrupted run)."""
    tmpl = request.template
    url = sources.repo_url(request.repo)
    good_rev, bad_rev = sources.check_rev(request.good), sources.check_rev(request.bad)
    if good_rev == bad_rev:
        raise UsageError(f"--good and --bad are the same revision {request.good!r}",
                         hint="give the last good revision as --good and the first bad one as --bad")
    sources.precheck_local(url, [good_rev, bad_rev])
    # The toolchain is known before the mirror is written; it is provisioned (a download) only once the
    # revisions are proven to span commits: same or reversed revisions are refused without it.
    toolchains.check_known([request.rustc])
    mirror = sources.mirror(url, progress=events.progress)
    good_sha = sources.resolve_rev(mirror, good_rev, progress=events.progress)
    bad_sha = sources.resolve_rev(mirror, bad_rev, progress=events.progress)
    if good_sha == bad_sha:
        raise UsageError(f"--good {request.good} and --bad {request.bad} are the same commit {good_sha[:12]}",
                         hint="give the last good revision as --good and the first bad one as --bad")
    items = [Commit(sha, title) for sha, title in sources.first_parent_commits(mirror, good_sha, bad_sha)]
    if len(items) < 2:
        raise UsageError(f"no first-parent commits between {request.good} and {request.bad}",
                         hint="--good must be an ancestor of --bad (are they reversed?)")
    toolchains.prepare([request.rustc], progress=events.progress)
    rt, spec = request.reference_types, request.rustc
    store = open_store()
    where = request.runtime
    options = options_for(request.options, where)
    # A node run keeps the fingerprint it had before browsers existed.
    salt = [] if where is Runtime.NODE else [str(where)]
    fingerprint = fingerprint_of("bisect-commits", tmpl.name, str(spec), str(rt), url, good_sha, bad_sha,
                                 request.find_fix, [list(p) for p in request.params], options.__dict__,
                                 tmpl.content_hash, tmpl.check_hash, *salt)
    config = {"template": tmpl.name, "rustc": str(spec), "reference_types": str(rt), "url": url, "good": good_sha,
              "bad": bad_sha, "find_fix": request.find_fix, **run_config(tmpl), "runtime": str(where)}
    with claim_run(store, kind="bisect-commits", fingerprint=fingerprint, command=request.command, config=config,
                   info=events.info) as claimed:
        run_id = claimed.run_id
        oracle = Oracle(template=tmpl, store=store, run_id=run_id, progress=events.progress,
                        on_probe=events.on_probe)
        skipped: dict[str, str] = {}

        def ask(commit: Commit) -> Verdict:
            try:
                resolved = sources.git_source(mirror, commit.sha, requested=f"{url}@{commit.sha}",
                                              progress=events.progress)
            except (Untestable, UsageError) as exc:  # e.g. a commit whose tree is not a wasm-bindgen workspace
                skipped[commit.sha] = exc.one_line()
                events.info(f"{commit}: SKIP {exc.one_line()}")
                return Verdict.SKIP
            except WasmBisectError as exc:
                skipped[commit.sha] = exc.one_line()
                events.info(f"{commit}: {exc.one_line()}")
                return Verdict.ERROR
            variant = Variant(template=tmpl.name, rustc=spec, bindgen=resolved.source, reference_types=rt,
                              options=options, params=request.params, runtime=where)
            return oracle(variant)

        events.info(f"bisect-commits {tmpl.name}: {len(items)} first-parent commits from {items[0]} to {items[-1]} "
                    f"(rustc {spec}, reference-types {rt}; run {run_id})")
        with events.section(f"bisect-commits {tmpl.name}"):
            found = bisect(items, ask, find_fix=request.find_fix)
        data = {**result(found, find_fix=request.find_fix, url=url), "run_id": run_id, "url": url,
                "good": request.good, "bad": request.bad, "rustc": str(spec), "reference_types": str(rt),
                "template": tmpl.name, "untestable": skipped, "probes_built": oracle.summary()}
        store.finish_run(run_id, data)
    return CommitsRun(data=data, found=found)


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(data: dict[str, Any]) -> str:
    """The Markdown report of a commit bisection: the headline, the range searched, every probed commit."""
    line = headline(data)
    out = [f"## {data['template']}: {line}", "",
           f"Bisected {data['commits']} first-parent commits of {data['url']} from `{data['good']}` to "
           f"`{data['bad']}` with rustc `{data['rustc']}`, reference-types `{data['reference_types']}` "
           f"({data['mode']}): {data['message']}.", ""]
    if data.get("link"):
        out += [f"Commit: {data['link']}", ""]
    out += ["| commit | subject | verdict |", "|---|---|---|"]
    out += [f"| `{p['sha'][:12]}` | {_md(p['subject'])} | {p['verdict']} |" for p in data["probes"]]
    out += ["", f"<sub>wasm-bisect bisect-commits run {data['run_id']}</sub>"]
    return "\n".join(out) + "\n"
