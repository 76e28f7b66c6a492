"""Real published-binary installs (issue 26 item 1), from a release server on 127.0.0.1 in upstream's layout
whose tarballs are made from the CLIs this machine built from source (GitHub is not reachable here).

The happy path is real end to end: a private tools dir (nothing cached), `--tools prebuilt`, and a real probe
whose verdict must equal the source-built CLI's; no `cargo install` runs (no build log, no target slot). The
fallbacks (a corrupt tarball, a wrong-version binary) build from source for real, in a tool home of their
own at a fixed path whose cargo target dir only ever compiles that one release with the tool's build settings:
from the second run on the "build" is a cargo cache hit of seconds (the first run on a machine compiles the CLI
once, minutes; cargo rebuilds everything when the target dir's path changes, so the path is kept).
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from fixtures.homes import REAL_HOME, linked_home, seed_index
from fixtures.releases import ReleaseServer, serve
from wasm_bisect.bindgen import prebuilt

from .conftest import assert_probe_built, wasm_bisect, wasm_bisect_json

VERSION = "0.2.99"
FALLBACK = "0.2.98"
FALLBACK_HOME = REAL_HOME / "test-homes" / "prebuilt-fallback"  # kept across runs, see the module docstring
CELL = ("--rustc", "debian:1.96.0", "--bindgen", VERSION, "--reference-types", "default")


def _cached(name: str, version: str) -> Path:
    """The machine's source-built binary (built now if this machine has none yet)."""
    binary = REAL_HOME / "tools" / name / version / "bin" / name
    if not binary.is_file():
        flags = ["--bindgen", version] if name == "wasm-bindgen" else ["--wasm-pack"]
        wasm_bisect("tools", "install", *flags, "--tools", "source", env={"WASM_BISECT_HOME": str(REAL_HOME)})
    return binary


def _private_tools(root: Path) -> Path:
    home = linked_home(root, private=("tools",))
    (home / "tools").mkdir()
    return home


def test_prebuilt_cli_installs_without_cargo_and_gives_the_source_built_verdict(tmp_path: Path) -> None:
    start = time.monotonic()
    reference = wasm_bisect_json("probe", *CELL, "--tools", "source")["probe"]["outcome"]
    assert reference["evidence"]["wasm_bindgen_cli_origin"] == "built"
    releases = ReleaseServer()
    releases.add_bindgen(VERSION, {"wasm-bindgen": _cached("wasm-bindgen", VERSION),
                                   "README.md": b"wasm-bindgen\n"})
    releases.add_wasm_pack("0.13.1", _cached("wasm-pack", "0.13.1"))
    home = _private_tools(tmp_path)
    with serve(releases) as server:
        env = {"WASM_BISECT_HOME": str(home), prebuilt.RELEASES_URL_ENV: server.url}
        doc = wasm_bisect_json("probe", *CELL, "--tools", "prebuilt", env=env)
    assert_probe_built(doc)  # the crate itself compiled for real in this run (a private store)
    outcome = doc["probe"]["outcome"]
    assert outcome["verdict"] == reference["verdict"], (outcome["reason"], reference["reason"])
    assert outcome["evidence"]["wasm_bindgen_cli_origin"] == "prebuilt"
    assert outcome["evidence"]["wasm_pack_origin"] == "prebuilt"
    assert outcome["evidence"]["wasm_bindgen_cli_host"].startswith(f"prebuilt ({server.url}/rustwasm/")
    tools = home / "tools"
    assert not (tools / "logs").exists(), "a tool was built (cargo install writes a log)"
    assert list(tools.glob("cargo-target*")) == [], "a tool build took a cargo target slot"
    manifest = json.loads((tools / "wasm-bindgen" / VERSION / "tool.json").read_text())
    assert manifest["origin"] == "prebuilt" and manifest["download"]["checksum"] is True
    assert sorted(r.rsplit("/", 1)[1] for r in releases.requests) == sorted([
        f"wasm-bindgen-{VERSION}-x86_64-unknown-linux-musl.tar.gz",
        f"wasm-bindgen-{VERSION}-x86_64-unknown-linux-musl.tar.gz.sha256sum",
        "wasm-pack-v0.13.1-x86_64-unknown-linux-musl.tar.gz"])
    print(f"PREBUILT probe verdict {outcome['verdict']} = source-built {reference['verdict']}; "
          f"provision {outcome['timings'].get('provision')} s; test {time.monotonic() - start:.1f} s")


def test_corrupt_and_wrong_version_assets_fall_back_to_a_build() -> None:
    start = time.monotonic()
    home = FALLBACK_HOME
    releases = ReleaseServer()
    for case in ("corrupt", "wrong-version"):
        if case == "corrupt":
            releases.add_bindgen(FALLBACK, {"wasm-bindgen": _cached("wasm-bindgen", FALLBACK)},
                                 checksum_of=b"not this tarball")
        else:  # 0.2.99's binary in 0.2.98's tarball: the checksum matches, --version does not
            releases.add_bindgen(VERSION, {"wasm-bindgen": _cached("wasm-bindgen", VERSION)}, served_as=FALLBACK)
        for entry in (home / "tools" / "wasm-bindgen", home / "tools" / "logs", home / "store.sqlite3"):
            shutil.rmtree(entry, ignore_errors=True)
        (home / "tools").mkdir(parents=True, exist_ok=True)  # tools/cargo-target* stay: the cargo cache
        seed_index(home)
        with serve(releases) as server:
            env = {"WASM_BISECT_HOME": str(home), prebuilt.RELEASES_URL_ENV: server.url}
            proc = wasm_bisect("tools", "install", "--bindgen", FALLBACK, "--json", env=env)
        installed = json.loads(proc.stdout)[0]
        assert installed["origin"] == "built" and installed["version"] == FALLBACK
        said = [line for line in proc.stderr.splitlines() if "building from source instead" in line]
        why = "published sha256" if case == "corrupt" else f"reports version '{VERSION}'"
        assert len(said) == 1 and why in said[0], proc.stderr
        assert (home / "tools" / "logs" / f"wasm-bindgen-{FALLBACK}.log").read_text().strip()
    print(f"FALLBACK both cases built from source; test {time.monotonic() - start:.1f} s")
