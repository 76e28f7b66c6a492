"""The oracle: Variant -> Outcome with a real build and check, answered from the store when it can be.

`oracle` asks (store, compatibility filter, then a real probe); `build` renders, resolves and runs wasm-pack;
`check` runs the check; `render` and `templates` turn a template into a variant crate.
"""

from wasm_bisect.probe.oracle import Oracle, run_probe

__all__ = ["Oracle", "run_probe"]
