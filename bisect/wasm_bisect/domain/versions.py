"""Parse, order and select rustc and wasm-bindgen versions. Pure: reads only the bundled data file."""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import tomllib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal

from packaging.version import InvalidVersion, Version

from wasm_bisect.domain.errors import UsageError
from wasm_bisect.domain.model import TOOLCHAIN_PROVIDERS

Channel = Literal["stable", "beta", "nightly"]

# No leading zeros (semver, crates.io): `0.2.092` would compare equal to 0.2.92 in a list yet name no release.
_BINDGEN_RE = re.compile(r"^(?:0|[1-9][0-9]*)\.(?:0|[1-9][0-9]*)\.(?:0|[1-9][0-9]*)$")
_RUSTC_NUM_RE = re.compile(r"^([0-9]+)\.([0-9]+)(?:\.([0-9]+))?(?:-beta(?:\.([0-9]+))?)?$")
_DATED_RE = re.compile(r"^(nightly|beta)-([0-9]{4})-([0-9]{2})-([0-9]{2})$")

# Rust ships a stable release every six weeks since 1.0; anchored on 1.63.0 (2022-08-11) the formula
# gives every date from 1.2 on to within a day (1.82.0 -> 2024-10-17, 1.86.0 -> 2025-04-03).
_ANCHOR_MINOR = 63
_ANCHOR_DATE = dt.date(2022, 8, 11)
_CYCLE = dt.timedelta(days=42)
# master becomes the next-next version when beta branches, about a week before the stable release.
_BRANCH_LEAD = dt.timedelta(days=7)

BUNDLED_DATA = "bindgen_versions.toml"
_CHANNELS: dict[str, Channel] = {"stable": "stable", "beta": "beta", "nightly": "nightly"}


_EXACT_RE = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+$")
# What rustc and cargo print of themselves: `1.96.0`, `1.82.0-nightly`, `1.82.0-beta.3`, `cargo 1.95.0 (...)`.
_RELEASE_RE = re.compile(r"^([0-9]+)\.([0-9]+)\.([0-9]+)(?:-[0-9A-Za-z.]+)?(?:\s|$)")


def is_exact_version(text: str) -> bool:
    """`X.Y.Z` with ASCII digits only, nothing before or after (what crates.io, rustup and the compare links
    accept)."""
    return bool(_EXACT_RE.fullmatch(text))


def rust_release(text: str) -> tuple[int, int, int]:
    """(X, Y, Z) of a rustc or cargo release string (`1.96.0`, `1.82.0-nightly`, `1.82.0-beta.3`); the one parser
    of what a toolchain reports. Raises UsageError for anything else (non-ASCII digits included)."""
    match = _RELEASE_RE.match(text.strip())
    if match is None:
        raise UsageError(f"{text!r} is not a Rust release version X.Y.Z")
    return int(match[1]), int(match[2]), int(match[3])


def cargo_release(cargo_version: str) -> tuple[int, int, int]:
    """The Rust release a cargo belongs to: Debian's old cargo numbers itself 0.66 for Rust 1.65."""
    major, minor, patch = rust_release(cargo_version)
    return (1, minor - 1, 0) if major == 0 else (major, minor, patch)


def stable_release_date(minor: int) -> dt.date:
    """Release date of 1.<minor>.0 by the six-week schedule."""
    return _ANCHOR_DATE + (minor - _ANCHOR_MINOR) * _CYCLE


def _minor_at(day: dt.date) -> int:
    """The newest 1.x whose stable release is on or before `day`."""
    return _ANCHOR_MINOR + (day - _ANCHOR_DATE).days // _CYCLE.days


def _release_tuple(version: Version) -> tuple[int, int, int]:
    parts = (*version.release, 0, 0)
    return (parts[0], parts[1], parts[2])


@dataclass(frozen=True, kw_only=True)
class RustcVersion:
    """A rustc as a user names it: `1.63.0`, `1.82`, `stable`, `beta`, `nightly`, `nightly-2024-08-01`."""

    text: str
    channel: Channel
    version: Version | None = None  # numbered releases; dated toolchains get the estimate below
    date: dt.date | None = None  # dated nightly/beta
    estimated: bool = False  # True when `version` comes from the release schedule, not the name

    @property
    def numbered(self) -> bool:
        return self.version is not None and not self.estimated

    def feature_version(self) -> tuple[int, int, int] | None:
        """The X.Y.Z this compiler behaves as (for rust-version checks); None for bare channel names."""
        return _release_tuple(self.version) if self.version is not None else None

    def sort_key(self) -> tuple[Any, ...]:
        """Numbered and dated toolchains interleave by version (a nightly before its stable); bare
        channel names cannot be placed and sort last: stable < beta < nightly."""
        if self.version is None:
            return (1, ("stable", "beta", "nightly").index(self.channel))
        rank = {"nightly": 0, "beta": 1, "stable": 2}[self.channel]
        return (0, _release_tuple(self.version), rank, self.version, self.date or dt.date.min)

    def __str__(self) -> str:
        return self.text


def _strip_provider(text: str) -> str:
    provider, sep, rest = text.partition(":")
    return rest if sep and provider in TOOLCHAIN_PROVIDERS else text


def parse_rustc(text: str) -> RustcVersion:
    """Parse a rustc name; an optional provider prefix (`debian:`, `rustup:`) is ignored for ordering."""
    raw = text.strip()
    name = _strip_provider(raw)
    if name.startswith("/") or raw.startswith("path:"):
        raise UsageError(
            f"cannot order rustc {raw!r} by version", hint="name its version instead, e.g. 1.96.0"
        )
    if name in _CHANNELS:
        return RustcVersion(text=raw, channel=_CHANNELS[name])
    dated = _DATED_RE.fullmatch(name)
    if dated:
        try:
            day = dt.date(int(dated[2]), int(dated[3]), int(dated[4]))
        except ValueError:
            raise UsageError(
                f"rustc {raw!r} has an impossible date", hint="write e.g. nightly-2024-08-01"
            ) from None
        # A nightly is two minors ahead of the stable of its day, a beta one ahead.
        ahead = 2 if dated[1] == "nightly" else 1
        minor = _minor_at(day + _BRANCH_LEAD) + ahead
        channel: Channel = "nightly" if dated[1] == "nightly" else "beta"
        # A dated beta is placed before the numbered betas of its version (1.82.0-beta.3).
        estimate = Version(f"1.{minor}.0" if channel == "nightly" else f"1.{minor}.0b0")
        return RustcVersion(text=raw, channel=channel, version=estimate, date=day, estimated=True)
    num = _RUSTC_NUM_RE.fullmatch(name)
    if num:
        base = f"{num[1]}.{num[2]}.{num[3] or 0}"
        if "-beta" in name:
            return RustcVersion(text=raw, channel="beta", version=Version(f"{base}b{num[4] or 0}"))
        return RustcVersion(text=raw, channel="stable", version=Version(base))
    raise UsageError(
        f"cannot read rustc version {raw!r}",
        hint="write X.Y.Z (1.63.0), stable, beta, nightly or nightly-YYYY-MM-DD",
    )


def rustc_key(text: str) -> tuple[Any, ...]:
    return parse_rustc(text).sort_key()


def parse_bindgen(text: str) -> Version:
    """A wasm-bindgen crates.io version, exactly X.Y.Z."""
    raw = text.strip()
    if not _BINDGEN_RE.fullmatch(raw):
        raise UsageError(f"cannot read wasm-bindgen version {raw!r}",
                         hint="write X.Y.Z without leading zeros, e.g. 0.2.99")
    try:
        return Version(raw)
    except InvalidVersion:  # pragma: no cover - the pattern admits only valid versions
        raise UsageError(f"cannot read wasm-bindgen version {raw!r}", hint="write X.Y.Z") from None


def bindgen_key(text: str) -> Version:
    return parse_bindgen(text)


def parse_bindgen_version(text: str) -> str:
    """A validated wasm-bindgen version string (X.Y.Z), stripped."""
    parse_bindgen(text)
    return text.strip()


def is_release(text: str) -> bool:
    """True for a numbered rustc (1.63.0, debian:1.96.0); False for channels, dated builds and paths."""
    try:
        return parse_rustc(text).numbered
    except UsageError:
        return False


def sort_rustc(texts: Iterable[str]) -> list[str]:
    return sorted(texts, key=rustc_key)


def sort_bindgen(texts: Iterable[str]) -> list[str]:
    return sorted(texts, key=bindgen_key)


# --- the release list ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Release:
    """One published version of a crate, as the crates.io index describes it."""

    version: str
    yanked: bool = False
    rust_version: str | None = None  # the crate's `rust-version` (MSRV), when it declares one
    cli_yanked: bool = False  # wasm-bindgen-cli of the same version (the CLI must match exactly)
    cli_rust_version: str | None = None

    @property
    def unusable(self) -> bool:
        """Yanked as a library or as the matching CLI: a fresh lock or `cargo install` refuses it."""
        return self.yanked or self.cli_yanked


def parse_sparse_index(text: str) -> list[Release]:
    """Parse a crates.io sparse-index file (one JSON object per line) into releases, oldest first."""
    releases: list[Release] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            version = str(entry["vers"])
        except (ValueError, KeyError, TypeError) as exc:
            raise UsageError(
                f"sparse index line {number} is not a crate entry ({exc})", hint="fetch the file again"
            ) from None
        rust_version = entry.get("rust_version")
        releases.append(
            Release(version=version, yanked=bool(entry.get("yanked", False)),
                    rust_version=str(rust_version) if rust_version else None)
        )
    return sorted(releases, key=lambda r: Version(r.version))


def merge_cli(library: Sequence[Release], cli: Sequence[Release]) -> list[Release]:
    """Attach wasm-bindgen-cli's yanked flag and rust-version to the library releases of the same version."""
    by_version = {r.version: r for r in cli}
    merged = []
    for lib in library:
        match = by_version.get(lib.version)
        merged.append(
            Release(version=lib.version, yanked=lib.yanked, rust_version=lib.rust_version,
                    cli_yanked=match.yanked if match else False,
                    cli_rust_version=match.rust_version if match else None)
        )
    return merged


def releases_to_toml(releases: Sequence[Release], *, header: str = "") -> str:
    """Render releases in the bundled file's format (the update session writes this text)."""
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    for release in releases:
        lines += ["", "[[release]]", f'version = "{release.version}"']
        if release.yanked:
            lines.append("yanked = true")
        if release.rust_version:
            lines.append(f'rust_version = "{release.rust_version}"')
        if release.cli_yanked:
            lines.append("cli_yanked = true")
        if release.cli_rust_version:
            lines.append(f'cli_rust_version = "{release.cli_rust_version}"')
    return "\n".join(lines).lstrip("\n") + "\n"


def releases_from_toml(text: str) -> list[Release]:
    """Parse the bundled file's format; releases come back oldest first."""
    try:
        data = tomllib.loads(text)
        releases = [
            Release(version=str(item["version"]), yanked=bool(item.get("yanked", False)),
                    rust_version=item.get("rust_version"), cli_yanked=bool(item.get("cli_yanked", False)),
                    cli_rust_version=item.get("cli_rust_version"))
            for item in data.get("release", [])
        ]
    except (tomllib.TOMLDecodeError, KeyError, TypeError) as exc:
        raise UsageError(f"wasm-bindgen release list is malformed ({exc})", hint="regenerate it") from None
    return sorted(releases, key=lambda r: Version(r.version))


@functools.cache
def bundled_releases() -> tuple[Release, ...]:
    """The wasm-bindgen releases shipped in `data/bindgen_versions.toml` (0.2.50 and newer)."""
    text = resources.files("wasm_bisect").joinpath("data", BUNDLED_DATA).read_text(encoding="utf-8")
    return tuple(releases_from_toml(text))


def bundled_versions(*, include_yanked: bool = True) -> list[str]:
    return [r.version for r in bundled_releases() if include_yanked or not r.unusable]


def bundled_yanked() -> frozenset[str]:
    """Versions whose library or CLI is yanked."""
    return frozenset(r.version for r in bundled_releases() if r.unusable)


def yanked_bindgen() -> frozenset[str]:
    """Same as bundled_yanked(): the yanked set the compatibility filter uses by default."""
    return bundled_yanked()


# --- range and list syntax ----------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One item of a version selection: a single version, or a range `start..end` (an end may be open)."""

    start: str
    end: str | None = None  # None: not a range
    is_range: bool = False


MAX_ITEMS = 1000  # items in one selection (a range counts once)


def parse_selection(spec: str, *, what: str, key: Callable[[str], Any], example: str,
                    placed: Callable[[str], bool] | None = None) -> list[Item]:
    """The syntax of `a..b`, `a,b,c` and `a`, checked offline and before any list is fetched: ASCII only, no
    empty item, well-formed ranges whose ends parse (via `key`) and are in order (when both ends can be
    `placed` on their own: a bare channel name cannot)."""
    text = spec.strip()
    if not text:
        raise UsageError(f"empty {what} selection", hint=f"write e.g. {example}")
    if not spec.isascii():
        raise UsageError(f"{what} selection {spec!r} has non-ASCII characters", hint=f"write e.g. {example}")
    raw_items = text.split(",")
    if len(raw_items) > MAX_ITEMS:
        raise UsageError(f"{what} selection has {len(raw_items)} items (at most {MAX_ITEMS})",
                         hint="use a range a..b")
    items: list[Item] = []
    for raw in raw_items:
        token = raw.strip()
        if not token:
            raise UsageError(f"empty item in {what} list {spec!r}", hint=f"write e.g. {example}")
        if ".." not in token:
            key(token)  # raises a UsageError naming the token when it is ill-formed
            items.append(Item(token))
            continue
        start, _, end = token.partition("..")
        start, end = start.strip(), end.strip()
        if ".." in end or start.endswith(".") or end.startswith(".") or not (start or end):
            raise UsageError(f"ill-formed {what} range {token!r}", hint=f"write e.g. {example}")
        lo, hi = (key(start) if start else None), (key(end) if end else None)
        ordered = placed is None or (bool(start) and bool(end) and placed(start) and placed(end))
        if lo is not None and hi is not None and ordered and lo > hi:
            raise UsageError(
                f"reversed {what} range {token!r}", hint=f"write the older version first: {end}..{start}"
            )
        items.append(Item(start, end, is_range=True))
    return items


def select(
    spec: str,
    known: Sequence[str],
    *,
    what: str,
    key: Callable[[str], Any],
    example: str,
    skip_in_ranges: Callable[[str], bool] | None = None,
) -> list[str]:
    """Expand `a..b` (both ends inclusive; an open end means the oldest/newest), `a,b,c` and `a`
    against `known`, an ordered list; results come back in order without duplicates. The syntax is checked
    first (`parse_selection`), then each version is looked up.

    `skip_in_ranges` drops versions (e.g. yanked ones) from ranges; a version named on its own is kept.
    """
    items = parse_selection(spec, what=what, key=key, example=example)
    ordered = sorted(known, key=key)
    index = {key(v): i for i, v in enumerate(ordered)}
    span = f"{ordered[0]}..{ordered[-1]}" if ordered else "none"

    def locate(token: str, whole: str) -> int:
        version_key = key(token)
        if version_key not in index:
            raise UsageError(
                f"unknown {what} version {token!r} in {whole!r}", hint=f"known versions are {span}"
            )
        return index[version_key]

    chosen: set[int] = set()
    for item in items:
        if not item.is_range:
            chosen.add(locate(item.start, item.start))
            continue
        token = f"{item.start}..{item.end}"
        if not ordered:
            raise UsageError(f"no known {what} versions to pick {token!r} from", hint="list them one by one")
        first = locate(item.start, token) if item.start else 0
        last = locate(item.end, token) if item.end else len(ordered) - 1
        if first > last:
            raise UsageError(
                f"reversed {what} range {token!r}", hint=f"write the older version first: {item.end}..{item.start}"
            )
        chosen.update(
            i for i in range(first, last + 1) if skip_in_ranges is None or not skip_in_ranges(ordered[i])
        )
    if not chosen:
        raise UsageError(
            f"{what} selection {spec!r} is empty", hint="widen the range or allow yanked versions"
        )
    return [ordered[i] for i in sorted(chosen)]


BINDGEN_EXAMPLE = "0.2.87..0.2.100 or 0.2.92,0.2.99"
RUSTC_EXAMPLE = "1.63.0..1.96.0 or 1.63.0,1.96.0"


def check_bindgen_selection(spec: str) -> None:
    """The syntax of a wasm-bindgen selection, offline (before the release list is read)."""
    parse_selection(spec, what="wasm-bindgen", key=bindgen_key, example=BINDGEN_EXAMPLE)


def check_rustc_selection(spec: str) -> None:
    """The syntax of a rustc selection (no provider prefix), offline."""
    parse_selection(spec, what="rustc", key=rustc_key, example=RUSTC_EXAMPLE,
                    placed=lambda t: parse_rustc(t).version is not None)


def select_bindgen(
    spec: str, *, releases: Sequence[Release] | None = None, include_yanked: bool = False
) -> list[str]:
    """wasm-bindgen versions from `0.2.87..0.2.100`, `0.2.92,0.2.99` or `0.2.99` (bundled list by default).

    Ranges leave out yanked versions unless `include_yanked`; a yanked version named alone stays
    (the compatibility filter then skips it, saying why).
    """
    pool = list(releases) if releases is not None else list(bundled_releases())
    unusable = {r.version for r in pool if r.unusable}
    return select(
        spec,
        [r.version for r in pool],
        what="wasm-bindgen",
        key=bindgen_key,
        example=BINDGEN_EXAMPLE,
        skip_in_ranges=None if include_yanked else unusable.__contains__,
    )


MAX_NIGHTLY_DAYS = 730  # a nightly range covers at most two years of dates


def nightly_range(spec: str) -> list[str] | None:
    """`nightly-2024-02-01..nightly-2024-04-15` -> every date in between, both ends included (nightlies skip
    days: a date without a build is skipped when it is probed, never blamed); None for any other selection."""
    start, sep, end = (t.strip() for t in spec.partition(".."))
    if not sep or "," in spec:
        return None
    ends = [_DATED_RE.fullmatch(t) for t in (start, end)]
    if ends[0] is None or ends[1] is None or ends[0][1] != "nightly" or ends[1][1] != "nightly":
        return None
    first, last = (parse_rustc(t).date for t in (start, end))
    assert first is not None and last is not None
    if first > last:
        raise UsageError(f"reversed rustc range {spec!r}", hint=f"write the older date first: {end}..{start}")
    days = (last - first).days + 1
    if days > MAX_NIGHTLY_DAYS:
        raise UsageError(f"rustc range {spec!r} covers {days} nightly dates (at most {MAX_NIGHTLY_DAYS})",
                         hint="narrow the range; a bisect needs about log2(days) probes anyway")
    return [f"nightly-{first + dt.timedelta(days=i):%Y-%m-%d}" for i in range(days)]


def select_rustc(spec: str, known: Sequence[str] | None = None) -> list[str]:
    """rustc versions from a list or range. Ranges pick from `known` (the available toolchains); with
    no `known`, a range of numbered releases expands to every X.Y.0 between its ends."""
    example = RUSTC_EXAMPLE
    check_rustc_selection(spec)
    dates = nightly_range(spec)
    if dates is not None:
        return dates
    if known is not None:
        return select(spec, known, what="rustc", key=rustc_key, example=example)
    picked: list[str] = []
    for raw in spec.split(","):
        token = raw.strip()
        if ".." not in token or not token.replace(".", ""):
            picked.append(token)  # select() below reports empty and ill-formed items
            continue
        start, _, end = (t.strip() for t in token.partition(".."))
        ends = [parse_rustc(t) if t and ".." not in t else None for t in (start, end)]
        lo_end, hi_end = ends
        if (
            lo_end is None or hi_end is None or lo_end.version is None or hi_end.version is None
            or not (lo_end.numbered and hi_end.numbered) or "beta" in (lo_end.channel, hi_end.channel)
        ):
            raise UsageError(
                f"rustc range {token!r} needs two numbered releases or the list of available toolchains",
                hint="write e.g. 1.63.0..1.70.0",
            )
        lo, hi = _release_tuple(lo_end.version), _release_tuple(hi_end.version)
        if lo > hi:
            raise UsageError(
                f"reversed rustc range {token!r}", hint=f"write the older version first: {end}..{start}"
            )
        if lo[0] != hi[0]:
            raise UsageError(
                f"rustc range {token!r} spans major versions", hint="list the versions one by one"
            )
        # Every stable minor in between, as rustup names them; the ends exactly as written.
        picked += [start, *(f"{lo[0]}.{minor}.0" for minor in range(lo[1] + 1, hi[1])), end]
    named = [token for token in picked if token]  # empty items are reported by select() with the spec
    return select(",".join(picked), named, what="rustc", key=rustc_key, example=example)
