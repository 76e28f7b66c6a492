"""Real matrix runs (issue 5): a 2 x 4 x 2 grid with -j 2, every report format, the pictures opened in headless
Chromium, shards merged vs one run, and the example noxfile run by nox."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from fixtures.schema import validate_report
from wasm_bisect import report
from wasm_bisect.report.formats import COLOURS

from ._png import decode as decode_png
from .conftest import assert_built, wasm_bisect

RUSTC = "debian:1.63.0,debian:1.96.0"
BINDGEN = "0.2.92,0.2.93,0.2.98,0.2.99"
GRID = ["--template", "vec-of-structs", "--rustc", RUSTC, "--bindgen", BINDGEN, "--reference-types", "default,on"]
# What the #4352 reproducer does on this grid (the probe tests show why): the detach needs the externref
# transform, which wasm-bindgen >= 0.2.94 applies when the module has reference-types: always on rustc 1.96
# (LLVM 19+ default), only with `on` on rustc 1.63.
EXPECTED = {
    (r, b, rt): "bad" if b in ("0.2.98", "0.2.99") and (rt == "on" or r == "debian:1.96.0") else "good"
    for r in RUSTC.split(",") for b in BINDGEN.split(",") for rt in ("default", "on")
}
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def verdicts(doc: dict[str, Any]) -> dict[tuple[str, str, str], str]:
    return {(c["rustc"], c["bindgen"], c["reference_types"]): c["verdict"] for c in doc["cells"]}


@pytest.fixture(scope="module")
def full_run(scratch: Path) -> dict[str, Any]:
    """The real matrix with -j 2 (its terminal table goes to the test log), and every report format."""
    out = scratch / "matrix"
    reports = {fmt: out / f"report.{fmt}" for fmt in report.FORMATS}
    start = time.monotonic()
    proc = wasm_bisect("matrix", *GRID, "-j", "2",
                       *[a for fmt, path in reports.items() for a in ("--report", f"{fmt}:{path}")])
    print(f"real matrix of 16 cells with -j 2: {time.monotonic() - start:.0f} s wall")
    doc = validate_report(json.loads(reports["json"].read_text()))
    return {"doc": doc, "stdout": proc.stdout, "reports": reports}


def test_real_matrix_verdicts_and_terminal_table(full_run: dict[str, Any]) -> None:
    doc, err = full_run["doc"], full_run["stdout"]  # the grid tables are results: stdout
    assert verdicts(doc) == EXPECTED
    assert doc["run"]["stats"]["built"] == 16 and doc["run"]["stats"]["from_store"] == 0  # a private store
    assert len(doc["cells"]) == 16
    for cell in doc["cells"]:
        assert_built(cell, built=doc["run"]["stats"]["built"])
    assert doc["summary"]["cells"] == 16 and doc["summary"]["bad"] == 6
    assert "vec-of-structs: reference-types = default" in err and "vec-of-structs: reference-types = on" in err
    assert "rustc \\ wasm-bindgen" in err
    first = doc["first_failing"]
    assert (first["rustc"], first["bindgen"], first["reference_types"]) == ("debian:1.96.0", "0.2.98", "default")
    on = next(s for s in doc["settings"] if s["reference_types"] == "on")
    assert (on["first_failing"]["rustc"], on["first_failing"]["bindgen"]) == ("debian:1.63.0", "0.2.98")
    assert "https://github.com/wasm-bindgen/wasm-bindgen/compare/0.2.93...0.2.98" in on["first_failing"]["compare"]
    assert "follows reference-types" in doc["reference_types"]["message"]
    env = doc["environment"]
    assert env["node"].startswith("v") and env["wasm_pack"]
    assert len(env["toolchains"]) == 2, env["toolchains"]
    assert all(tc.get("rustc_vV", "").startswith("rustc ") for tc in env["toolchains"]), env["toolchains"]


def test_every_report_format_is_written(full_run: dict[str, Any]) -> None:
    files = full_run["reports"]
    assert json.loads(files["json"].read_text())["cells"] == full_run["doc"]["cells"]
    junit = files["junit"].read_text()
    assert junit.count("<testcase ") == 16 and junit.count("<failure ") == 6
    md = files["md"].read_text()
    assert "rust-lang/rust/compare/1.63.0...1.96.0" in md and "rustc -vV: debian:1.96.0" in md
    assert "wasm-bisect probe --template vec-of-structs --rustc debian:1.96.0 --bindgen 0.2.98" in md
    for fmt in ("svg", "html"):
        assert files[fmt].read_text().count('class="cell verdict-') == 16
    print(md[:md.index("### Reproducer source")])


# -- the pictures in a real browser ----------------------------------------------------------------------
def chromium(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        pytest.fail("headless Chromium is needed: apt-get install -y chromium")
    with tempfile.TemporaryDirectory(prefix="wb-chromium-") as profile:
        argv = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                f"--user-data-dir={profile}", *args]
        return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=True)


def png_pixels(path: Path) -> tuple[int, int, list[tuple[int, int, int]]]:
    """The screenshot's size and RGB pixels (tests/real/_png.py decodes it)."""
    image = decode_png(path.read_bytes())
    rgba = image.rgba
    return image.width, image.height, [(rgba[i], rgba[i + 1], rgba[i + 2]) for i in range(0, len(rgba), 4)]


def colour_counts(pixels: list[tuple[int, int, int]]) -> dict[str, int]:
    targets = {v: tuple(int(COLOURS[v][i:i + 2], 16) for i in (1, 3, 5)) for v in report.VERDICTS}
    counts = dict.fromkeys(targets, 0)
    for px in pixels:
        for verdict, rgb in targets.items():
            if all(abs(a - b) <= 8 for a, b in zip(px, rgb, strict=True)):
                counts[verdict] += 1
                break
    return counts


@pytest.mark.parametrize("fmt", ["svg", "html"])
def test_picture_renders_in_headless_chromium(full_run: dict[str, Any], fmt: str, scratch: Path) -> None:
    page = full_run["reports"][fmt]
    doc = full_run["doc"]
    dom = chromium("--dump-dom", page.as_uri()).stdout
    per_verdict = {v: dom.count(f'class="cell verdict-{v}') for v in report.VERDICTS}
    assert sum(per_verdict.values()) == 16, per_verdict
    assert per_verdict == {v: doc["summary"][v] for v in report.VERDICTS}
    assert 'class="frontier"' in dom and "first-failing" in dom
    width, height = report.svg_size(doc)
    size = (width + 40, height + 40) if fmt == "svg" else (1100, height + 700)
    shot = scratch / f"grid-{fmt}.png"
    chromium(f"--screenshot={shot}", f"--window-size={size[0]},{size[1]}", page.as_uri())
    w, h, pixels = png_pixels(shot)
    assert (w, h) == size
    counts = colour_counts(pixels)
    print(f"{fmt} screenshot {shot}: {w}x{h}, verdict-coloured pixels {counts}")
    cell_area = 94 * 30  # a cell's fill, less its text, is most of this
    for verdict in ("good", "bad"):
        assert counts[verdict] >= doc["summary"][verdict] * cell_area * 0.6, (verdict, counts)
    assert counts["skip"] < cell_area and counts["error"] < cell_area  # only the legend swatches


# -- shards + merge --------------------------------------------------------------------------------------
def test_shards_merged_give_the_same_report(full_run: dict[str, Any], scratch: Path) -> None:
    out = scratch / "shards"
    for k in (1, 2):
        wasm_bisect("matrix", *GRID, "-j", "2", "--shard", f"{k}/2", "--export", str(out / f"shard{k}.sqlite3"))
    merged = out / "merged.sqlite3"
    run_id = wasm_bisect("merge", str(out / "shard1.sqlite3"), str(out / "shard2.sqlite3"), "--into",
                         str(merged)).stdout.strip()
    again = wasm_bisect("merge", str(out / "shard2.sqlite3"), str(out / "shard1.sqlite3"), "--into",
                        str(merged)).stdout.strip()
    assert again == run_id, "merging the same shards again must be a no-op"
    wasm_bisect("report", run_id, "--store", str(merged), "--format", "json", "-o", str(out / "merged.json"))
    doc = json.loads((out / "merged.json").read_text())
    assert doc["run"]["merged_from"] and len(doc["cells"]) == 16
    assert report.comparable(doc) == report.comparable(full_run["doc"])
    # A shard of another grid (other wasm-bindgen axis: another fingerprint) is refused in one line.
    wasm_bisect("matrix", "--rustc", RUSTC, "--bindgen", "0.2.92,0.2.99", "--reference-types", "default,on",
                "--cell", "debian:1.63.0@0.2.92@default", "--export", str(out / "other.sqlite3"))
    proc = wasm_bisect("merge", str(out / "shard1.sqlite3"), str(out / "other.sqlite3"), "--into",
                       str(out / "bad.sqlite3"), check=False)
    assert proc.returncode == 2 and "different template or config" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_report_of_a_real_bisect_run(full_run: dict[str, Any], scratch: Path) -> None:
    """The bisect stores its result; the report reads it (frontier, first pair) and infers the rest."""
    run_id = json.loads(wasm_bisect("bisect", *GRID, "--no-follow-up", "--json").stdout)["run"]["id"]
    wasm_bisect("report", run_id, "--format", "json", "--no-env", "-o", str(scratch / "bisect.json"))
    doc = json.loads((scratch / "bisect.json").read_text())
    assert doc["run"]["kind"] == "bisect" and doc["bisect"]["searches"]
    first = doc["first_failing"]
    assert (first["rustc"], first["bindgen"]) == ("debian:1.96.0", "0.2.98")
    assert verdicts(doc) and verdicts(doc).items() <= EXPECTED.items()  # the cells the bisect asked
    wasm_bisect("report", run_id, "--format", "svg", "--no-env", "-o", str(scratch / "bisect.svg"))
    svg = (scratch / "bisect.svg").read_text()
    assert svg.count('class="cell verdict-') == 16 and 'class="frontier"' in svg
    md = wasm_bisect("report", run_id, "--format", "md", "--no-env").stdout
    assert "compare/0.2.93...0.2.98" in md


# -- the example noxfile, for real -----------------------------------------------------------------------
CELLS = ("debian:1.63.0@0.2.92@default", "debian:1.63.0@0.2.99@on")


def test_example_noxfile_runs_two_cells_and_feeds_a_github_matrix(scratch: Path) -> None:
    results = scratch / "nox-results"
    # The sessions run `wasm-bisect` from PATH (python=False): the one installed next to this interpreter.
    env = {**os.environ, "WASM_BISECT_EXPORT_DIR": str(results),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    nox = [sys.executable, "-m", "nox", "-f", str(EXAMPLES / "noxfile.py")]
    for argv in ([*nox, "-s", *(f"cell({c})" for c in CELLS)], [*nox, "-s", "report"]):
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=3600, check=False)
        sys.stderr.write(f"\n$ {' '.join(argv)} -> {proc.returncode}\n{proc.stderr}\n")
        assert proc.returncode == 0
    assert sorted(p.name for p in results.glob("*.sqlite3")) == ["debian-1.63.0-0.2.92-default.sqlite3",
                                                                "debian-1.63.0-0.2.99-on.sqlite3"]
    doc = json.loads((results / "report.json").read_text())
    assert {(c["rustc"], c["bindgen"], c["reference_types"]): c["verdict"] for c in doc["cells"]} == {
        ("debian:1.63.0", "0.2.92", "default"): "good", ("debian:1.63.0", "0.2.99", "on"): "bad"}
    assert (results / "report.xml").is_file() and (results / "report.html").is_file()
    # The documented command: nox's session list -> a GitHub Actions matrix.
    command = (f"{sys.executable} -m nox -f {EXAMPLES / 'noxfile.py'} -l --json | "
               f"{sys.executable} -m wasm_bisect nox-matrix")
    proc = subprocess.run(["bash", "-o", "pipefail", "-c", command], capture_output=True, text=True, timeout=300,
                          check=False)
    print(f"$ nox -l --json | wasm-bisect nox-matrix\n{proc.stdout}")
    assert proc.returncode == 0, proc.stderr
    include = json.loads(proc.stdout)["include"]
    assert len(include) == 16
    assert {"session": f"cell({CELLS[1]})", "cell": CELLS[1], "rustc": "debian:1.63.0", "bindgen": "0.2.99",
            "reference_types": "on"} in include
