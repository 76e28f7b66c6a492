"""Real probe below wasm-bindgen 0.2.88: its CLI is built by an older host toolchain (issue 23 item 4).

The default host rustc (>= 1.86) refuses to build wasm-bindgen-cli < 0.2.88, so the tool builds it with an
older toolchain it provisions (bindgen/hosts.py chooses; debian:1.85.0 on this machine kind). One probe, to
keep the suite cheap: the CLI and that toolchain are built once per machine and cached like any other.
"""

from __future__ import annotations

from pathlib import Path

from fixtures.schema import validate_report
from wasm_bisect.domain.versions import rust_release

from .conftest import assert_probe_built, wasm_bisect_json

BINDGEN = "0.2.84"


def test_smoke_with_wasm_bindgen_0_2_84_on_rustc_163_is_good() -> None:
    doc = validate_report(wasm_bisect_json("probe", "--template", "smoke", "--rustc", "debian:1.63.0",
                                           "--bindgen", BINDGEN, "--reference-types", "default"))
    data = doc["probe"]
    outcome = data["outcome"]
    assert_probe_built(doc)
    assert outcome["verdict"] == "good", outcome
    evidence = outcome["evidence"]
    assert evidence["wasm_bindgen_cli"] == BINDGEN
    # The evidence names the CLI's host toolchain: not the default one, and a rustc that does not refuse it.
    host = evidence["wasm_bindgen_cli_host"]
    print(f"wasm-bindgen-cli {BINDGEN} built with {host}; timings {outcome['timings']}")
    name, _, rustc = host.partition(" (rustc ")
    assert name.startswith(("debian:", "rustup:")), host
    assert (1, 68, 0) <= rust_release(rustc.rstrip(")")) < (1, 86, 0), host
    # The template's dependencies resolved for rustc 1.63 (MSRV-aware, by the host cargo), lockfile v3 for
    # Debian's cargo 0.66, exactly the probed wasm-bindgen.
    lock = Path(outcome["crate_dir"], "Cargo.lock").read_text()
    assert "version = 3" in lock
    assert f'name = "wasm-bindgen"\nversion = "{BINDGEN}"' in lock
    listed = {t["ident"]: t for t in wasm_bisect_json("tools", "list") if t["name"] == "wasm-bindgen"}
    assert f"{listed[BINDGEN]['host']} (rustc {listed[BINDGEN]['host_rustc']})" == host
