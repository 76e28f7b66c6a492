"""Every speed and duration figure in README.md and docs/*.md prose is held by a results file.

A figure is a number with a unit of time (ms, s, min, h and their long forms), of size (KiB/MiB/GiB, KB/MB/GB),
a ratio (`1.35x`, `2 times faster`) or a percentage; a range (`91-156 s`, `91 to 156 s`) is two figures and needs
both ends. It is backed when some numeric value anywhere in benchmarks/results/*.json (figures and details, any
run) equals it once the unit is converted (time to seconds, size to MiB, a percentage also as a fraction),
within the rounding of either side: "656 s" is backed by 656.3, "11 min" by 630 to 690 s. What a recorded number
measures comes from its key (`after_wall_s`, `peak_rss_mib`, `overhead_pct`, `j2_faster`, a list under
`check_seconds`, cold.json's `tools` and `toolchains` steps): a count or a load average backs nothing. A figure
whose paragraph (or list item, or table row) names a results file (`benchmarks/results/cold.json`) must be in
that file.

Not scanned: fenced and indented code blocks (real output and commands), inline code spans, HTML comments, and
the generated benchmark table (readme_table.py checks that one against the files itself).

A figure that is not a measurement (a configuration default, a limit, a test's own parameter, a documented
constant) is marked on its line, once reviewed:

    ... a 90 s CLI build ... <!-- not-a-measurement: 90 s; 10 s -->   # only these figures of the line
    ... (seconds, default 120 s) ... <!-- not-a-measurement -->        # every figure of the line

    python benchmarks/figures_check.py    # exit 1 and one line per figure no results file holds
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
START, END = "<!-- benchmark-table:start -->", "<!-- benchmark-table:end -->"
MARKER = re.compile(r"<!--\s*not-a-measurement\s*(?::(?P<only>.*?))?-->")

# unit -> (kind, factor to the kind's base unit: seconds, MiB, plain number)
UNITS: dict[str, tuple[str, float]] = {
    "ms": ("time", 0.001), "s": ("time", 1.0), "sec": ("time", 1.0), "secs": ("time", 1.0),
    "second": ("time", 1.0), "seconds": ("time", 1.0), "min": ("time", 60.0), "mins": ("time", 60.0),
    "minute": ("time", 60.0), "minutes": ("time", 60.0), "h": ("time", 3600.0), "hour": ("time", 3600.0),
    "hours": ("time", 3600.0),
    "KiB": ("size", 1 / 1024), "MiB": ("size", 1.0), "GiB": ("size", 1024.0),
    "KB": ("size", 1000 / 2**20), "MB": ("size", 1e6 / 2**20), "GB": ("size", 1e9 / 2**20),
    "x": ("ratio", 1.0), "\u00d7": ("ratio", 1.0), "times": ("ratio", 1.0),
    "%": ("percent", 1.0),
}
_NUM = r"(?<![\w.,])\d+(?:,\d{3})*(?:\.\d+)?(?![.,]?\d)"
_UNIT = (r"(?:(?P<time>ms|s|secs?|seconds?|min|mins|minutes?|h|hours?)\b"
         r"|(?P<size>[KMG]i?B)\b"
         r"|(?P<ratio>x|\u00d7)(?![\w])|\s(?P<times>times)\s+(?:faster|slower|fewer|more|less|cheaper|as)\b"
         r"|(?P<percent>%))")
FIGURE = re.compile(rf"(?P<low>{_NUM})(?:\s*(?:-|\u2013|to)\s*(?P<high>{_NUM}))?(?P<gap> ?)(?P<unit>{_UNIT})")


@dataclass(frozen=True)
class Figure:
    path: str
    line: int
    text: str
    values: tuple[float, ...]  # in the kind's base unit; two for a range
    tolerances: tuple[float, ...]  # half a unit in the last written digit, in the base unit
    kind: str
    named: tuple[str, ...] = ()  # the results files its paragraph names: only those back it

    def __str__(self) -> str:
        if self.named:
            files = " or ".join(f"results/{name}.json" for name in self.named)
            return f'{self.path}:{self.line}: "{self.text}" is not in {files}, which its paragraph names'
        return f'{self.path}:{self.line}: "{self.text}" is in no results file'


def _number(text: str) -> tuple[float, float]:
    """The value and half a unit in its last digit ("656" -> 0.5, "1.35" -> 0.005)."""
    plain = text.replace(",", "")
    decimals = len(plain.split(".")[1]) if "." in plain else 0
    return float(plain), 0.5 * 0.1**decimals


def _prose_lines(text: str) -> Iterator[tuple[int, str]]:
    """(line number, text) of the lines that are prose: no code block, no generated table, no inline code."""
    fence: str | None = None
    in_table = False
    previous_blank = True
    in_indented = False
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if fence is not None:
            if stripped.startswith(fence):
                fence = None
            previous_blank = False
            continue
        if stripped.startswith(("```", "~~~")):
            fence = stripped[:3]
            continue
        if START in line:
            in_table = True
        if in_table:
            in_table = END not in line
            continue
        if not stripped:
            previous_blank = True
            in_indented = False
            continue
        if line.startswith("    ") and (previous_blank or in_indented):
            in_indented = True  # an indented code block (list continuations here are indented 2)
            continue
        previous_blank = False
        yield number, re.sub(r"`[^`]*`", " ", line)


def _named_files(text: str) -> dict[int, tuple[str, ...]]:
    """line number -> the results files (`results/cold.json` -> "cold") its paragraph names. A paragraph ends at
    a blank line and at a list item's start; a table row is a paragraph of its own."""
    named: dict[int, tuple[str, ...]] = {}
    paragraph: list[tuple[int, str]] = []

    def close() -> None:
        files = tuple(dict.fromkeys(re.findall(r"results/([\w-]+)\.json", " ".join(line for _, line in paragraph))))
        named.update((number, files) for number, _ in paragraph)
        paragraph.clear()

    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("|") or re.match(r"([-*+]|\d+\.)\s", stripped):
            close()
        if stripped:
            paragraph.append((number, line))
        if stripped.startswith("|"):
            close()
    close()
    return named


def _scan(text: str, path: str) -> Iterator[tuple[Figure, bool]]:
    """Every figure of the prose, and whether a marker on its line says it is not a measurement."""
    named = _named_files(text)
    for number, line in _prose_lines(text):
        marker = MARKER.search(line)
        whole_line = marker is not None and marker.group("only") is None
        allowed = {a.strip() for a in marker.group("only").split(";")} if marker and marker.group("only") else set()
        prose = re.sub(r"<!--.*?-->", " ", line)
        for m in FIGURE.finditer(prose):
            unit = next(k for k in ("time", "size", "ratio", "times", "percent") if m.group(k))
            kind, factor = UNITS[m.group(unit)]
            if kind in ("ratio", "percent") and m.group("gap"):
                continue  # "3 x 40", "2 %" written apart: a grid, not a ratio
            ends = [_number(m.group("low"))] + ([_number(m.group("high"))] if m.group("high") else [])
            figure = Figure(path, number, m.group(0).strip(), tuple(v * factor for v, _ in ends),
                            tuple(t * factor for _, t in ends), kind, named.get(number, ()))
            yield figure, whole_line or figure.text in allowed


def figures_in(text: str, path: str) -> Iterator[Figure]:
    """The figures of one markdown text that are not marked as not-a-measurement."""
    return (figure for figure, marked in _scan(text, path) if not marked)


def stale_markers(text: str, path: str) -> Iterator[str]:
    """A marker that names a figure its line does not hold (edited since it was reviewed)."""
    found: dict[int, set[str]] = {}
    for figure, _ in _scan(text, path):
        found.setdefault(figure.line, set()).add(figure.text)
    for number, line in _prose_lines(text):
        marker = MARKER.search(line)
        if marker and marker.group("only") is not None:
            for name in (a.strip() for a in marker.group("only").split(";")):
                if name not in found.get(number, set()):
                    yield f'{path}:{number}: not-a-measurement names "{name}", which is no figure of this line'


# What a recorded number measures, from the nearest key above it that says (`module_bytes: {release: N}`, a list
# under `raw_seconds`): only a number recorded as a duration backs a duration, and so on. A count ("probes": 45)
# or a load average backs no figure with a unit.
KEY_KINDS: list[tuple[re.Pattern[str], str, float]] = [
    (re.compile(r"_ms$"), "time", 0.001),
    (re.compile(r"(^|_)(s|secs|seconds)$|^(raw|tool|j\d+|j\d+_cells|\w+_check|\w+_probe)_median$"), "time", 1.0),
    (re.compile(r"_mib$"), "size", 1.0),
    (re.compile(r"bytes$"), "size", 1 / 2**20),
    (re.compile(r"_pct$"), "percent", 1.0),
    (re.compile(r"faster|fewer|speedup|cheaper|_over_|ratio"), "ratio", 1.0),
]
# Containers whose keys name a thing, not a unit: cold.json's per-tool and per-toolchain-step build seconds.
SECONDS_UNDER = {"tools", "toolchains"}


def _kind(path: tuple[str, ...]) -> tuple[str, float] | None:
    for key in reversed(path):
        for pattern, kind, factor in KEY_KINDS:
            if pattern.search(key):
                return kind, factor
        if key in SECONDS_UNDER:
            return "time", 1.0
    return None


def _precision(text: str) -> float:
    """Half a unit in the last digit of a recorded number as written (656.3 -> 0.05, 656 -> 0.5)."""
    decimals = len(text.split(".")[1]) if "." in text and "e" not in text else 0
    return 0.5 * 0.1**decimals


Recorded = dict[str, dict[str, list[tuple[float, float]]]]


def result_values(results: Path = RESULTS) -> Recorded:
    """results file ("cold") -> kind -> (value in the kind's base unit, its rounding) for every number whose key
    says what it measures (any run, superseded or not: the prose may describe an older run it names)."""
    recorded: Recorded = {}

    def walk(node: object, path: tuple[str, ...], found: dict[str, list[tuple[float, float]]]) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, (*path, str(key)), found)
        elif isinstance(node, list):
            for value in node:
                walk(value, path, found)
        elif isinstance(node, int | float | str) and not isinstance(node, bool):
            text = str(node).strip()
            kind = _kind(path)
            if kind and re.fullmatch(r"-?\d+(?:\.\d+)?", text):
                found.setdefault(kind[0], []).append((float(text) * kind[1], _precision(text) * kind[1]))

    for path in sorted(results.glob("*.json")):
        walk(json.loads(path.read_text()), (), recorded.setdefault(path.stem, {}))
    return recorded


def is_backed(figure: Figure, recorded: Recorded) -> bool:
    """Every end of the figure equals a recorded number of its kind within the rounding of either, in the results
    files its paragraph names, else in any."""
    files = figure.named or tuple(recorded)
    candidates = [c for name in files for c in recorded.get(name, {}).get(figure.kind, [])]
    return all(any(abs(value - wanted) <= max(tolerance, rounding) + 1e-9 for value, rounding in candidates)
               for wanted, tolerance in zip(figure.values, figure.tolerances, strict=True))


def documents(root: Path = ROOT) -> list[Path]:
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def problems(root: Path = ROOT, results: Path | None = None) -> list[str]:
    """One line per figure no results file holds, and per marker naming a figure that is not there."""
    recorded = result_values(results or root / "benchmarks" / "results")
    out: list[str] = []
    for path in documents(root):
        text, name = path.read_text(), str(path.relative_to(root))
        out += [str(figure) for figure in figures_in(text, name) if not is_backed(figure, recorded)]
        out += list(stale_markers(text, name))
    return out


def check(root: Path = ROOT) -> int:
    """Print each problem; 1 when there is one."""
    found = problems(root)
    for line in found:
        print(line)
    if found:
        print(f"{len(found)} figure(s) in README.md/docs: point each at the results file that holds it, remove it, "
              "or mark a figure that is not a measurement with <!-- not-a-measurement: TEXT -->")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(check())
