"""The oracle: Variant -> Outcome with a real build and check, answered from the store when it can be.

`oracle` asks (store, compatibility filter, then a real probe); `build` renders, resolves and runs wasm-pack;
`check` runs the check; `render` and `templates` turn a template into a variant crate; `readiness` says how
many seconds a probe would still take (for the cost-aware search).
"""

from wasm_bisect.probe.oracle import Judge, Oracle, marked, person_key, provision_together, run_probe
from wasm_bisect.probe.readiness import Readiness

__all__ = ["Judge", "Oracle", "Readiness", "marked", "person_key", "provision_together", "run_probe"]
