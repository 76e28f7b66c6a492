"""One probe as a run of its own (`wasm-bisect probe`): recorded in the store like every other run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wasm_bisect.domain.model import Outcome, Variant, Verdict
from wasm_bisect.probe import Judge, Oracle, person_key
from wasm_bisect.probe.reproducer import Reproducer, run_config
from wasm_bisect.runs._events import QUIET, Events
from wasm_bisect.store import Store


@dataclass(frozen=True, kw_only=True)
class ProbeResult:
    variant: Variant
    outcome: Outcome
    from_store: bool
    run_id: str

    def to_json(self) -> dict[str, Any]:
        return {"variant": self.variant.identity(), "key": self.variant.key, "outcome": self.outcome.to_json(),
                "from_store": self.from_store, "run_id": self.run_id}


def execute(variant: Variant, template: Reproducer, store: Store, events: Events = QUIET, *, fresh: bool = False,
            command: str = "wasm-bisect probe", judge: Judge | None = None) -> ProbeResult:
    """Answer one cell (from the store unless `fresh`), as a `probe` run; with `judge`, a person answers
    (`--prompt`: their mark is stored apart from the check's verdict)."""
    run_id = store.start_run(kind="probe", fingerprint=variant.key, command=command,
                             config={"variant": variant.identity(), **run_config(template),
                                     "judge": "person" if judge else "check"})
    if fresh:  # an ERROR in the store is never reused: the oracle probes again
        forced = Outcome(verdict=Verdict.ERROR, reason="forced re-probe (--fresh)")
        store.put(variant, template.content_hash, template.check_hash, forced)
        if judge is not None:
            store.put(variant, template.content_hash, person_key(template.check_hash), forced)
    for note in template.notes([variant.rustc.version]):
        events.info(note)
    oracle = Oracle(template=template, store=store, run_id=run_id, progress=events.progress,
                    on_stage=events.on_stage, judge=judge)
    outcome = oracle.outcome(variant)
    result = ProbeResult(variant=variant, outcome=outcome, from_store=oracle.cached > 0, run_id=run_id)
    store.finish_run(run_id, {"kind": "probe", "verdict": str(outcome.verdict), **result.to_json()})
    return result


__all__ = ["ProbeResult", "execute"]
