"""How to build the wasm-bindgen CLI cheaply (issue 16): profiles side by side in one run, on this machine.

    python benchmarks/toolbuild_bench.py [OUT.json] [--version 0.2.99] [--neighbour 0.2.98] [--reps 7] [--smoke]

1. `cargo install --locked wasm-bindgen-cli` of one release into an empty target dir per profile: the current
   one (toolcache.FAST_PROFILE), opt-level 1, and the current one with 256 codegen units. Crates come
   from the machine's CARGO_HOME (downloaded once before the timed builds), so only compiling is timed.
2. Each CLI's run time on real modules: the vec-of-structs probe's module built by wasm-pack for that release
   (release and dev profile), `wasm-bindgen --target nodejs` timed `reps` times, median.
3. Target-dir reuse: the neighbouring release built into an empty target dir and into the one that built the
   release of step 1 (current profile): what the tool cache's slots, keyed by the nearest release, gain.

Appends a run to benchmarks/results/toolbuild.json. Minutes of real builds: opt-in (`nox -s toolbuild_bench`).

`--smoke` (`nox -s ci` runs it so the script cannot rot): the current profile only, one rep, the release as its
own neighbour, and every build into the tool cache's own target slot for that release (held like a tool build),
so cargo only confirms it is fresh; every step and figure runs, nothing is recorded, and its seconds are not
build times.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

try:
    from wasm_bisect.bindgen import toolcache
except ImportError:  # not installed: use the checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bisect"))
    from wasm_bisect.bindgen import toolcache
import results_file

from wasm_bisect.util import paths

# The first run compared opt-level 1 (then current) with opt-level 0 and with 256 codegen units at opt-level 1:
# opt-level 0 won (results/toolbuild.json), so it is the current profile and opt-level 1 the alternative now.
CURRENT = "opt0"
assert toolcache.FAST_PROFILE["CARGO_PROFILE_RELEASE_OPT_LEVEL"] == "0", "the tool's profile changed: update PROFILES"
PROFILES: dict[str, dict[str, str]] = {
    "opt0": dict(toolcache.FAST_PROFILE),
    "opt1": {**toolcache.FAST_PROFILE, "CARGO_PROFILE_RELEASE_OPT_LEVEL": "1"},
    "opt0_cgu256": {**toolcache.FAST_PROFILE, "CARGO_PROFILE_RELEASE_CODEGEN_UNITS": "256"},
}


def build(version: str, target: Path, profile: dict[str, str], root: Path) -> float:
    """Build the CLI into `root` with `target` as the cargo target dir; seconds spent (crates already fetched)."""
    env = toolcache.host_build_env(target_dir=target)
    for key in list(env):
        if key.startswith("CARGO_PROFILE_RELEASE_"):
            env.pop(key)
    env.update(profile)
    start = time.monotonic()
    subprocess.run(["cargo", "install", "--locked", "--root", str(root), "wasm-bindgen-cli", "--version",
                    f"={version}", "--bin", "wasm-bindgen", "--quiet"], env=env, check=True)
    return round(time.monotonic() - start, 1)


def fetch(version: str, scratch: Path) -> None:
    """Download the release's crates into CARGO_HOME (untimed): `cargo fetch` on its published lock."""
    crate = scratch / f"fetch-{version}"
    (crate / "src").mkdir(parents=True)
    (crate / "src" / "lib.rs").write_text("")
    (crate / "Cargo.toml").write_text(f'[package]\nname = "fetch"\nversion = "0.0.0"\nedition = "2021"\n\n'
                                      f'[dependencies]\nwasm-bindgen-cli = "={version}"\n\n[workspace]\n')
    env = toolcache.host_build_env()
    env.pop("CARGO_TARGET_DIR", None)
    subprocess.run(["cargo", "fetch", "--quiet"], cwd=crate, env=env, check=True)


def probe_modules(version: str, scratch: Path) -> dict[str, Path]:
    """Real probe modules (release and dev) for `version`, built by the tool in a private home."""
    home = scratch / "home"
    home.mkdir()
    for shared in ("toolchains", "tools", "downloads", "vendor", "locks"):
        if (paths.home() / shared).exists():
            (home / shared).symlink_to(paths.home() / shared)
    env = {**os.environ, "WASM_BISECT_HOME": str(home)}
    modules = {}
    for profile, folder in (("release", "release"), ("dev", "debug")):
        subprocess.run([sys.executable, "-m", "wasm_bisect", "probe", "--template", "vec-of-structs", "--rustc",
                        "debian:1.96.0", "--bindgen", version, "--profile", profile, "--json", "-q"],
                       env=env, check=False, capture_output=True)
        found = sorted((home / "work" / "targets").glob(f"*/slot*/wasm32-unknown-unknown/{folder}/"
                                                         "wasm_bisect_probe.wasm"))
        if not found:
            raise SystemExit(f"no {profile} probe module was built for {version} (see {home}/work)")
        modules[profile] = scratch / f"module-{profile}.wasm"
        shutil.copy(found[0], modules[profile])
    return modules


def run_time(cli: Path, module: Path, reps: int, scratch: Path) -> float:
    times = []
    for i in range(reps):
        out = scratch / f"out-{cli.parent.parent.name}-{module.stem}-{i}"
        start = time.monotonic()
        subprocess.run([str(cli), "--target", "nodejs", "--out-dir", str(out), str(module)], check=True)
        times.append(time.monotonic() - start)
        shutil.rmtree(out, ignore_errors=True)
    return round(statistics.median(times), 3)


def main(argv: list[str]) -> int:
    options, rest = results_file.own_options(argv, ("--version", "--neighbour", "--reps"))
    args = results_file.arguments("toolbuild", rest)
    version, neighbour = options.get("--version", "0.2.99"), options.get("--neighbour", "0.2.98")
    reps = int(options.get("--reps", "7"))
    profiles = {CURRENT: PROFILES[CURRENT]} if args.smoke else PROFILES
    if args.smoke:
        neighbour, reps = version, 1
    scratch = Path(tempfile.mkdtemp(prefix="toolbuild-bench-"))
    load_before = Path("/proc/loadavg").read_text().split()[0]
    try:
        for v in sorted({version, neighbour}):
            fetch(v, scratch)
        modules = probe_modules(version, scratch)
        sizes = {k: m.stat().st_size for k, m in modules.items()}
        print(f"modules: {sizes} bytes", flush=True)
        rows: dict[str, dict[str, Any]] = {}
        slot = toolcache.build_slot(version) if args.smoke else contextlib.nullcontext(None)
        with slot as kept:
            fresh, reused = measure_profiles(version, neighbour, profiles, reps, modules=modules, scratch=scratch,
                                             kept=kept, rows=rows)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    load_after = Path("/proc/loadavg").read_text().split()[0]
    figures: dict[str, float | int | bool] = {"current_is_opt0": True}
    for name, row in rows.items():
        figures.update({f"{name}_build_s": row["build_s"], f"{name}_run_release_s": row["run_release_s"],
                        f"{name}_run_dev_s": row["run_dev_s"]})
    if "opt1" in rows:
        figures["opt0_faster_than_opt1"] = round(rows["opt1"]["build_s"] / rows["opt0"]["build_s"], 3)
    figures.update({
        "neighbour_fresh_s": fresh, "neighbour_reused_s": reused,
        "neighbour_reuse_faster": round(fresh / max(reused, 0.1), 3),
        "load_before": float(load_before), "load_after": float(load_after),
    })
    details = {"version": version, "neighbour": neighbour, "reps": reps, "module_bytes": sizes,
               "profiles": {k: {kk: vv for kk, vv in v.items() if kk != "target"} for k, v in rows.items()},
               "profile_env": profiles}
    print(json.dumps(figures, indent=1))
    results_file.record("toolbuild", figures, details, path=args.out, smoke=args.smoke)
    return 0


def measure_profiles(version: str, neighbour: str, profiles: dict[str, dict[str, str]], reps: int, *,
                     modules: dict[str, Path], scratch: Path, kept: Path | None,
                     rows: dict[str, dict[str, Any]]) -> tuple[float, float]:
    """Steps 1 and 3: each profile's build and run times into `rows`; the neighbour's (fresh, reused) seconds.
    `kept` (smoke): the one target dir every build uses."""
    for name, profile in profiles.items():
        target, root = kept or scratch / f"target-{name.split()[0]}-{len(rows)}", scratch / f"root-{len(rows)}"
        seconds = build(version, target, profile, root)
        cli = root / "bin" / "wasm-bindgen"
        rows[name] = {"build_s": seconds, "target": str(target),
                      **{f"run_{k}_s": run_time(cli, m, reps, scratch) for k, m in modules.items()}}
        print(f"{name:>12}: build {seconds:6.1f} s; wasm-bindgen on the release module "
              f"{rows[name]['run_release_s']:.3f} s, dev module {rows[name]['run_dev_s']:.3f} s", flush=True)
    current = rows[CURRENT]
    fresh = build(neighbour, kept or scratch / "target-neighbour-fresh", PROFILES[CURRENT], scratch / "n1")
    reused = build(neighbour, Path(current["target"]), PROFILES[CURRENT], scratch / "n2")
    print(f"{neighbour} ({CURRENT}): {fresh:.1f} s into an empty target dir, {reused:.1f} s into the one "
          f"that built {version}", flush=True)
    return fresh, reused


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
