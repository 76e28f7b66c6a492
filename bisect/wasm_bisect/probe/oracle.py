"""One real probe: provision -> render -> resolve -> build -> check -> Outcome; and the oracle the search asks.

The reproducer is a template or the user's own crate (probe/reproducer.py); the check runs while the build's
target dir is still held, so a check that compiles (wasm-pack test) reuses what the build compiled.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from wasm_bisect import toolchains
from wasm_bisect.bindgen import toolcache
from wasm_bisect.domain.compat import untestable_reason
from wasm_bisect.domain.errors import SearchAborted, Untestable, WasmBisectError
from wasm_bisect.domain.model import Outcome, Runtime, Stage, Variant, Verdict
from wasm_bisect.probe import build, check, hosttools, rustflags, slots
from wasm_bisect.probe.reproducer import CheckKind, Materialised, Reproducer
from wasm_bisect.probe.verdicts import BuildResult
from wasm_bisect.store import Store
from wasm_bisect.util import fs, paths

Progress = Callable[[str], None]
# A person's answer for a built cell (`--prompt`): a verdict, or None to build it again. Quitting raises
# KeyboardInterrupt, so the run stays resumable like after Ctrl-C.
Judge = Callable[[Variant, Outcome], Verdict | None]
PERSON_SUFFIX = ":person"  # on the check hash: a person's marks are stored apart from the check's verdicts


def person_key(check_hash: str) -> str:
    """The store's check hash of a person's marks made with this check."""
    return check_hash if check_hash.endswith(PERSON_SUFFIX) else check_hash + PERSON_SUFFIX


def marked(outcome: Outcome, verdict: Verdict, *, how: str = "on the terminal") -> Outcome:
    """The outcome of a cell as a person judged it: their verdict, the build's evidence, the check's word kept."""
    evidence = {**outcome.evidence}
    if outcome.by == "check":
        evidence["check_verdict"] = str(outcome.verdict)
        evidence["check_reason"] = outcome.reason
    said = evidence.get("check_verdict")
    reason = f"marked {verdict} by a person {how}" + (f" (the check said {said})" if said else "")
    return replace(outcome, verdict=verdict, reason=reason, by="person", evidence=evidence)


def _quiet(_: str) -> None:
    pass


def _toolchain_for(variant: Variant, progress: Progress) -> toolchains.Toolchain:
    """The variant's toolchain, with its reference-types-off std built the first time an `off` probe needs it."""
    toolchain = toolchains.resolve(variant.rustc, provision=True, progress=progress)
    if rustflags.needs_mvp_std(variant, on_by_default=toolchain.reference_types_default):
        toolchain = toolchains.with_mvp_std(toolchain, progress=progress)
    return toolchain


def provision_together(variant: Variant, *, progress: Progress = _quiet) -> None:
    """Make the variant's toolchain, wasm-bindgen CLI and wasm-pack ready at the same time (-j N): they do
    not depend on each other, and each alone leaves cores idle (downloads, unpacking, single-crate compiles).

    Failures are left for the probe to meet again in order and report; a dropped or interrupted step stops
    the others' waiting only, each step cleans up after itself."""
    steps: list[Callable[[], object]] = [lambda: _toolchain_for(variant, progress),
                                         lambda: toolcache.wasm_pack(progress=progress)]
    if variant.bindgen.kind == "crates":
        steps.append(lambda: hosttools.bindgen_cli(variant.bindgen.version, progress=progress))
    if variant.runtime is Runtime.FIREFOX:
        steps.append(lambda: toolcache.geckodriver(progress=progress))
    threads = []
    failures: list[BaseException] = []

    def attempt(step: Callable[[], object]) -> None:
        try:
            step()
        except WasmBisectError:
            pass  # the probe meets it again and reports it
        except BaseException as exc:  # a Dropped or KeyboardInterrupt: re-raised below
            failures.append(exc)

    for step in steps:
        # Each thread runs in a copy of this context: the look-ahead ticket (priority, drop) applies to it too.
        context = contextvars.copy_context()
        thread = threading.Thread(target=context.run, args=(attempt, step), daemon=True)
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]


def run_probe(
    variant: Variant,
    template: Reproducer,
    *,
    progress: Progress = _quiet,
    on_stage: Callable[[Stage], None] | None = None,
    repeat: int = 1,
    threshold: int | None = None,
    done_meanwhile: Callable[[], Outcome | None] | None = None,
    together: bool = False,
) -> Outcome:
    """Build and check one variant for real. Never raises for a problem of the cell or the environment.

    `done_meanwhile` is asked once the variant's lock is held: another process may have probed the same
    variant while we waited for the lock, and its stored outcome is then the answer (no second build).
    `together`: provision toolchain, CLI and wasm-pack at the same time (`provision_together`).
    """
    try:
        with fs.lock(f"probe-{variant.key}"):
            earlier = done_meanwhile() if done_meanwhile is not None else None
            if earlier is not None:
                return earlier
            return _probe_locked(variant, template, progress=progress, on_stage=on_stage, repeat=repeat,
                                 threshold=threshold, together=together)
    except OSError as exc:
        # A full disk or an unwritable work directory: the environment failed, not the cell.
        return Outcome(verdict=Verdict.ERROR, reason=f"cannot write the probe's files: {exc}")


def _probe_locked(
    variant: Variant,
    template: Reproducer,
    *,
    progress: Progress,
    on_stage: Callable[[Stage], None] | None,
    repeat: int,
    threshold: int | None,
    together: bool,
) -> Outcome:
    """Provision, build, check: three steps, the check while the build's target slot is still held."""
    probe_dir = paths.work_dir() / variant.key
    if on_stage:
        on_stage(Stage.PROVISION)
    start = time.monotonic()
    try:
        tools = _provision(variant, template, progress=progress, together=together)
    except WasmBisectError as exc:
        # A source that cannot be tested (e.g. its CLI does not compile) is skipped, never blamed.
        return Outcome(verdict=Verdict.SKIP if isinstance(exc, Untestable) else Verdict.ERROR,
                       stage=Stage.PROVISION, reason=exc.one_line(),
                       timings={"provision": round(time.monotonic() - start, 3)})
    timings = {str(Stage.PROVISION): round(time.monotonic() - start, 3)}
    flags = rustflags.flag_plan(variant, template.project_rustflags, tools.toolchain)
    check_line = _check_line(variant, template, tools)
    with slots.target_slot(tools.toolchain, flags.flags or []) as target_dir:
        try:
            built = build.build(variant=variant, template=template, toolchain=tools.toolchain, bindgen=tools.bindgen,
                                wasm_pack=tools.wasm_pack, probe_dir=probe_dir, target_dir=target_dir, flags=flags,
                                check_line=check_line, patches=tools.patches, on_stage=on_stage,
                                timeout=template.build_timeout)
        except WasmBisectError as exc:  # the reproducer cannot be written for this variant (e.g. a patch)
            return Outcome(verdict=Verdict.ERROR, stage=Stage.RENDER, reason=exc.one_line(), timings=timings)
        timings.update(built.timings)
        logs = tuple(str(p) for p in sorted((probe_dir / "logs").glob("*.log")))
        crate_dir = str(probe_dir / "crate")
        if built.verdict is not None:
            return Outcome(verdict=built.verdict, reason=built.reason, stage=built.stage, exit_code=built.exit_code,
                           log_tail=_tail(built.log_tail), logs=logs, crate_dir=crate_dir,
                           evidence=built.evidence, timings=timings)
        if on_stage:
            on_stage(Stage.CHECK)
        check_log = probe_dir / "logs" / "check.log"
        results = _check(variant, template, built, tools, check_line, log=check_log, repeat=repeat)
    timings[str(Stage.CHECK)] = round(sum(r.seconds for r in results), 3)
    return _verdict(variant, template, built, results, threshold=threshold, timings=timings,
                    logs=tuple(sorted({*logs, str(check_log)})), crate_dir=crate_dir)


@dataclass(frozen=True, kw_only=True)
class _Tools:
    """What a probe builds and checks with, provisioned for its variant."""

    toolchain: toolchains.Toolchain
    bindgen: toolcache.CachedTool
    wasm_pack: toolcache.CachedTool
    runner: toolcache.CachedTool | None = None  # wasm-bindgen-test-runner, for wasm-pack test
    test_root: Path | None = None  # a wasm32 std with libtest, for wasm-pack test
    driver: Path | None = None  # Firefox's WebDriver
    patches: dict[str, str] | None = None  # a git or path source's [patch] entries


def _provision(variant: Variant, template: Reproducer, *, progress: Progress, together: bool) -> _Tools:
    """The variant's toolchain (with its mvp std when needed), wasm-bindgen CLI (and test runner), wasm-pack and
    WebDriver; raises WasmBisectError when one cannot be had."""
    spec = template.check
    if together:
        provision_together(variant, progress=progress)  # errors show again below, one step at a time
    toolchain = _toolchain_for(variant, progress)
    test_root: Path | None = None
    if spec.kind is CheckKind.WASM_PACK_TEST:  # the test harness links libtest for wasm32
        mvp = rustflags.needs_mvp_std(variant, on_by_default=toolchain.reference_types_default)
        test_root = toolchains.test_sysroot(toolchain, mvp=mvp, progress=progress)
    patches: dict[str, str] | None = None
    runner: toolcache.CachedTool | None = None
    if variant.bindgen.kind == "crates":
        bindgen = hosttools.bindgen_cli(variant.bindgen.version, progress=progress)
        if spec.kind is CheckKind.WASM_PACK_TEST:
            runner = hosttools.bindgen_test_runner(variant.bindgen.version, progress=progress)
    else:
        from wasm_bisect.bindgen import sources  # gitpython only when a git or path source is in play

        prepared = sources.prepare(variant.bindgen, progress=progress,
                                   test_runner=spec.kind is CheckKind.WASM_PACK_TEST)
        bindgen, patches, runner = prepared.cli, prepared.patches, prepared.test_runner
    wasm_pack = toolcache.wasm_pack(progress=progress)
    # Firefox's WebDriver is not packaged by Debian: built once into the tool cache, like the CLIs.
    driver = toolcache.geckodriver(progress=progress).binary if variant.runtime is Runtime.FIREFOX else None
    return _Tools(toolchain=toolchain, bindgen=bindgen, wasm_pack=wasm_pack, runner=runner, test_root=test_root,
                  driver=driver, patches=patches)


def _check_line(variant: Variant, template: Reproducer, tools: _Tools) -> build.CheckLine:
    """How the check runs in a built copy (for the check itself, reproduce.sh and the result)."""
    spec = template.check

    def check_line(rendered: Materialised, env: Mapping[str, str]) -> tuple[list[str], Path, dict[str, str]]:
        argv, cwd, check_env = check.command_line(spec, crate=rendered, build_env=env, variant=variant,
                                                  wasm_pack=tools.wasm_pack.binary, test_sysroot=tools.test_root,
                                                  runner_dir=tools.runner.bin_dir if tools.runner is not None else None,
                                                  driver=tools.driver)
        if spec.kind is CheckKind.SCRIPT and variant.runtime.is_browser:  # reproduce.sh probes it again
            argv = build.browser_reproduce_argv(variant, template)
        return argv, cwd, check_env

    return check_line


def _check(variant: Variant, template: Reproducer, built: BuildResult, tools: _Tools,
           check_line: build.CheckLine, *, log: Path, repeat: int) -> list[check.CheckResult]:
    """Run the check `repeat` times on the built copy (a check module in the tool's runner or a browser, else the
    check's command line)."""
    spec = template.check
    assert built.pkg_module is not None and built.rendered is not None
    argv, cwd, env = check_line(built.rendered, built.env)
    results: list[check.CheckResult] = []
    log.write_text("")
    for _ in range(max(1, repeat)):
        if spec.kind is CheckKind.SCRIPT:  # a check module: the tool's Node runner, or a headless browser
            results.append(check.run(crate_dir=built.rendered.package, script=spec.script or "check.mjs",
                                     pkg_module=built.pkg_module, params=variant.params, timeout=spec.timeout,
                                     failure_signature=spec.failure_signature, log=log,
                                     runtime=variant.runtime, driver=tools.driver,
                                     names=check.names_of(built.rendered, variant),
                                     timeout_verdict=spec.timeout_verdict))
        else:
            results.append(check.run_spec(spec, argv, cwd=cwd, env=env, log=log,
                                          build_failure=variant.options.build_failure,
                                          runtime=variant.runtime, driver=tools.driver))
    return results


def _verdict(variant: Variant, template: Reproducer, built: BuildResult, results: list[check.CheckResult], *,
             threshold: int | None, timings: dict[str, float], logs: tuple[str, ...], crate_dir: str) -> Outcome:
    """The cell's outcome from its check runs: the verdict `threshold` of them agree on (a flaky check stops the
    search), with the build's evidence and the first agreeing run's."""
    spec = template.check
    assert built.pkg_module is not None
    evidence = dict(built.evidence)
    evidence["pkg_dir"] = str(built.pkg_module.parent)  # what was built, for a person to look at (--prompt)
    if spec.kind is not CheckKind.SCRIPT:
        evidence["check"] = spec.describe(variant.runtime)
    verdict_of = _agree(results, threshold or len(results))
    if len(results) > 1:
        evidence["repeats"] = [str(r.verdict) for r in results]
    first = next(r for r in results if r.verdict == verdict_of) if verdict_of else results[0]
    evidence.update(first.evidence)
    if verdict_of is None:
        counts = {str(v): sum(r.verdict == v for r in results) for v in {r.verdict for r in results}}
        raise SearchAborted(
            f"check of {variant.short()} is flaky: {counts} over {len(results)} runs",
            hint="raise --repeat, lower the threshold, or make the check deterministic",
        )
    return Outcome(verdict=first.verdict, reason=first.reason, stage=Stage.CHECK, exit_code=first.exit_code,
                   log_tail=_tail(first.output_tail), logs=logs, crate_dir=crate_dir, evidence=evidence,
                   timings=timings)


def _agree(results: list[check.CheckResult], threshold: int) -> Verdict | None:
    for verdict in {r.verdict for r in results}:
        if sum(r.verdict == verdict for r in results) >= threshold:
            return verdict
    return None


def _tail(text: str, lines: int = 20) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


@dataclass
class Oracle:
    """Variant -> Outcome, answered from the store when possible, else by a real probe (then stored)."""

    template: Reproducer  # a template or the user's crate
    store: Store
    run_id: str | None = None
    allow_yanked: bool = False
    repeat: int = 1
    threshold: int | None = None
    progress: Progress = _quiet
    on_probe: Callable[[Variant, Outcome, bool], None] | None = None
    on_stage: Callable[[Variant, Stage], None] | None = None
    built: int = 0
    cached: int = 0
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    together: bool = False  # -j N: a probe provisions its toolchain, CLI and wasm-pack at the same time
    judge: Judge | None = None  # `--prompt`: a person gives each verdict, stored apart (`person_key`)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _running: dict[str, threading.Event] = field(default_factory=dict, repr=False)

    def outcome(self, variant: Variant) -> Outcome:
        """The variant's outcome; a variant another thread is probing right now is waited for, not built twice."""
        key = variant.key
        while True:
            with self._lock:
                if key in self.outcomes:
                    return self.outcomes[key]
                running = self._running.get(key)
                if running is None:
                    mine = self._running[key] = threading.Event()
                    break
            running.wait()  # then answered from memory, or (if that probe was dropped) probed here
        try:
            return self._answer(variant)
        finally:
            with self._lock:
                self._running.pop(key, None)
            mine.set()

    def answered(self, variant: Variant) -> bool:
        """Whether asking for `variant` would cost no build: answered in this run or stored (errors are retried)."""
        if variant.key in self.outcomes:
            return True
        stored = self.store.get(variant, self.template.content_hash, self.check_hash)
        return stored is not None and stored.verdict is not Verdict.ERROR

    @property
    def check_hash(self) -> str:
        """The store key's check part: the check's, or a person's marks with it (`--prompt`)."""
        ch = self.template.check_hash
        return person_key(ch) if self.judge is not None else ch

    def _answer(self, variant: Variant) -> Outcome:
        th, ch = self.template.content_hash, self.check_hash
        reason = untestable_reason(variant, allow_yanked=self.allow_yanked)
        stored = self.store.get(variant, th, ch) if reason is None else None
        cached = True
        if reason is not None:
            outcome = Outcome(verdict=Verdict.SKIP, stage=Stage.PLAN, reason=reason)
            self.store.put(variant, th, ch, outcome)
        elif stored is not None and stored.verdict is not Verdict.ERROR:
            outcome = stored  # errors are infrastructure: worth retrying on the next run
        else:
            hook = self.on_stage
            stage_hook = (lambda s: hook(variant, s)) if hook is not None else None
            meanwhile: list[Outcome] = []

            def done_meanwhile() -> Outcome | None:
                again = self.store.get(variant, th, ch)
                if again is not None and again.verdict is not Verdict.ERROR:
                    meanwhile.append(again)
                    return again
                return None

            if self.judge is not None:
                outcome = self._judged(variant, stage_hook)
                cached = False
            else:
                outcome = run_probe(variant, self.template, progress=self.progress, on_stage=stage_hook,
                                    repeat=self.repeat, threshold=self.threshold, done_meanwhile=done_meanwhile,
                                    together=self.together)
                cached = bool(meanwhile)  # a concurrent run probed it while we waited for its lock
            if not cached:
                self.store.put(variant, th, ch, outcome)
        with self._lock:  # -j N workers share one oracle
            if cached:
                self.cached += 1
            else:
                self.built += 1
        if self.run_id:
            self.store.record(self.run_id, variant, th, ch, outcome, cached=cached)
        with self._lock:
            self.outcomes[variant.key] = outcome
        if self.on_probe:
            self.on_probe(variant, outcome, cached)
        return outcome

    def _judged(self, variant: Variant, stage_hook: Callable[[Stage], None] | None) -> Outcome:
        """Build and check the cell (the check's stored verdict stands for the build when there is one), then ask
        the person; `retry` builds it again. The check's own outcome is stored under its own key as usual."""
        assert self.judge is not None
        th, ch = self.template.content_hash, self.template.check_hash
        built = self.store.get(variant, th, ch)
        while True:
            if built is None or built.verdict is Verdict.ERROR:
                built = run_probe(variant, self.template, progress=self.progress, on_stage=stage_hook,
                                  repeat=self.repeat, threshold=self.threshold, together=self.together)
                self.store.put(variant, th, ch, built)
            answer = self.judge(variant, built)
            if answer is not None:
                return marked(built, answer)
            built = None  # retry: build and check again

    def __call__(self, variant: Variant) -> Verdict:
        return self.outcome(variant).verdict

    def prefetch(self, variant: Variant) -> bool:
        """Provision what a probe of `variant` will need (toolchain, CLI, wasm-pack), without probing it: a tool
        build for a likely next probe while the current one runs. False when everything was ready already."""
        from wasm_bisect.probe.readiness import Readiness

        if variant.key in self.outcomes or not Readiness.look().needs_provisioning(variant):
            return False
        provision_together(variant, progress=self.progress)
        return True

    def summary(self) -> dict[str, Any]:
        return {"built": self.built, "from_store": self.cached}
