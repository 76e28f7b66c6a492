"""Debian package metadata for the `debian:` toolchain provider.

Pure (parsing, version order, dependency planning) apart from the `Apt` class at the bottom, which runs
apt-cache, apt-get download, dpkg-query and dpkg-deb through `processes.run`.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from wasm_bisect.domain.errors import ProvisionError, UsageError
from wasm_bisect.util import processes

# ---------------------------------------------------------------------------------------------------------
# Version order (dpkg's algorithm, deb-version(7))


def _order(char: str) -> int:
    if not char or char.isdigit():
        return 0
    if char.isalpha():
        return ord(char)
    if char == "~":
        return -1
    return ord(char) + 256


def _compare_fragment(a: str, b: str) -> int:
    """dpkg's verrevcmp on an upstream version or a revision."""
    i = j = 0
    while i < len(a) or j < len(b):
        while (i < len(a) and not a[i].isdigit()) or (j < len(b) and not b[j].isdigit()):
            ac = _order(a[i]) if i < len(a) and not a[i].isdigit() else 0
            bc = _order(b[j]) if j < len(b) and not b[j].isdigit() else 0
            if ac != bc:
                return -1 if ac < bc else 1
            i += 1 if i < len(a) and not a[i].isdigit() else 0
            j += 1 if j < len(b) and not b[j].isdigit() else 0
        start_i, start_j = i, j
        while i < len(a) and a[i].isdigit():
            i += 1
        while j < len(b) and b[j].isdigit():
            j += 1
        num_a = int(a[start_i:i] or "0")
        num_b = int(b[start_j:j] or "0")
        if num_a != num_b:
            return -1 if num_a < num_b else 1
    return 0


def _split_version(version: str) -> tuple[int, str, str]:
    epoch_text, colon, rest = version.partition(":")
    if not colon:
        epoch_text, rest = "0", version
    upstream, dash, revision = rest.rpartition("-")
    if not dash:
        upstream, revision = rest, ""
    try:
        epoch = int(epoch_text)
    except ValueError:
        epoch, upstream = 0, version
    return epoch, upstream, revision


def compare_versions(a: str, b: str) -> int:
    """-1, 0 or 1 as Debian version `a` sorts before, equal to or after `b`."""
    ea, ua, ra = _split_version(a)
    eb, ub, rb = _split_version(b)
    if ea != eb:
        return -1 if ea < eb else 1
    return _compare_fragment(ua, ub) or _compare_fragment(ra, rb)


def satisfies(version: str, op: str | None, wanted: str | None) -> bool:
    """Does `version` meet the relation `op wanted` of a Depends entry (no relation: always)?"""
    if op is None or wanted is None:
        return True
    cmp = compare_versions(version, wanted)
    return {
        "<<": cmp < 0,
        "<=": cmp <= 0,
        "<": cmp <= 0,  # obsolete spelling of <=
        "=": cmp == 0,
        ">=": cmp >= 0,
        ">": cmp >= 0,  # obsolete spelling of >=
        ">>": cmp > 0,
    }[op]


_UPSTREAM_RE = re.compile(r"^(?:[0-9]+:)?([0-9]+\.[0-9]+\.[0-9]+)")


def upstream_version(debian_version: str) -> str | None:
    """ "1.96.0+dfsg1-1~deb12u2" -> "1.96.0"; None when it does not start with X.Y.Z."""
    match = _UPSTREAM_RE.match(debian_version)
    return match.group(1) if match else None


def version_key(version: str) -> tuple[int, ...]:
    """Sort key for plain X.Y.Z strings."""
    return tuple(int(p) for p in re.findall(r"[0-9]+", version)[:3])


# ---------------------------------------------------------------------------------------------------------
# Control data


@dataclass(frozen=True)
class Dep:
    """One alternative of a Depends group: `name (op version)`."""

    name: str
    op: str | None = None
    version: str | None = None

    def __str__(self) -> str:
        return f"{self.name} ({self.op} {self.version})" if self.op else self.name


_DEP_RE = re.compile(
    r"^(?P<name>[a-z0-9][a-z0-9+.-]*)(?::[a-z0-9-]+)?"
    r"\s*(?:\(\s*(?P<op><<|<=|>=|>>|=|<|>)\s*(?P<version>[^)\s]+)\s*\))?"
    r"\s*(?:\[[^]]*\])?\s*(?:<[^>]*>)?$"
)


def parse_depends(text: str) -> list[list[Dep]]:
    """A Depends/Provides field -> groups of alternatives ("a | b, c" -> [[a, b], [c]])."""
    groups: list[list[Dep]] = []
    for group_text in text.split(","):
        if not group_text.strip():
            continue
        group = []
        for alt in group_text.split("|"):
            match = _DEP_RE.match(alt.strip())
            if match is None:
                raise ValueError(f"cannot parse dependency {alt.strip()!r}")
            group.append(Dep(match["name"], match["op"], match["version"]))
        groups.append(group)
    return groups


Paragraph = Mapping[str, str]


def parse_control(text: str) -> list[dict[str, str]]:
    """RFC-822 style paragraphs as printed by `apt-cache show` or read from a .deb control file."""
    paragraphs: list[dict[str, str]] = []
    current: dict[str, str] = {}
    last: str | None = None
    for line in text.splitlines():
        if not line.strip():
            if current:
                paragraphs.append(current)
            current, last = {}, None
        elif line[0] in " \t":
            if last is not None:
                current[last] += "\n" + line.strip()
        elif ":" in line:
            key, _, value = line.partition(":")
            last = key.strip()
            current[last] = value.strip()
    if current:
        paragraphs.append(current)
    return paragraphs


@dataclass(frozen=True, kw_only=True)
class MadisonRow:
    package: str
    version: str
    origin: str


def parse_madison(text: str) -> list[MadisonRow]:
    """`apt-cache madison` lines -> binary package rows (source rows are dropped)."""
    rows = []
    for line in text.splitlines():
        parts = [p.strip() for p in line.split("|")]
        if len(parts) != 3 or not parts[0] or not parts[1]:
            continue
        if parts[2].endswith("Sources"):
            continue
        rows.append(MadisonRow(package=parts[0], version=parts[1], origin=parts[2]))
    return rows


@dataclass(frozen=True, kw_only=True)
class Installed:
    """What dpkg says is installed: real packages with versions, and what they provide."""

    versions: Mapping[str, str] = field(default_factory=dict)
    provides: Mapping[str, tuple[str | None, ...]] = field(
        default_factory=dict
    )  # virtual -> provided versions

    def satisfies(self, dep: Dep) -> bool:
        version = self.versions.get(dep.name)
        if version is not None and satisfies(version, dep.op, dep.version):
            return True
        for provided in self.provides.get(dep.name, ()):
            if dep.op is None or (provided is not None and satisfies(provided, dep.op, dep.version)):
                return True
        return False


def parse_dpkg_query(text: str) -> Installed:
    """Lines of `dpkg-query -W -f '${Package}\\t${Version}\\t${db:Status-Abbrev}\\t${Provides}\\n'`."""
    versions: dict[str, str] = {}
    provides: dict[str, list[str | None]] = {}
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) < 3 or not parts[2].startswith("ii"):
            continue  # only fully installed packages count ("rc" = removed, config left)
        versions[parts[0]] = parts[1]
        if len(parts) > 3 and parts[3].strip():
            for group in parse_depends(parts[3]):
                for dep in group:
                    provides.setdefault(dep.name, []).append(dep.version if dep.op == "=" else None)
    return Installed(versions=versions, provides={k: tuple(v) for k, v in provides.items()})


# ---------------------------------------------------------------------------------------------------------
# Flavours and release discovery


@dataclass(frozen=True, kw_only=True)
class Flavour:
    """How one Debian source package names its binaries (old `rustc` vs backported `rustc-web`)."""

    source: str
    rustc: str
    cargo: str
    src: str  # the Rust source tree, needed to build a wasm32 std with -Z build-std
    std_dev: str  # name of the std dev package (also its Provides for the -web flavour)

    @property
    def wasm32_std(self) -> str:
        """Prebuilt wasm32 std package, when the flavour ships one at the chosen version."""
        return f"{self.std_dev}-wasm32"


FLAVOURS: tuple[Flavour, ...] = (
    Flavour(source="rustc", rustc="rustc", cargo="cargo", src="rust-src", std_dev="libstd-rust-dev"),
    Flavour(
        source="rustc-web",
        rustc="rustc-web",
        cargo="cargo-web",
        src="rust-web-src",
        std_dev="libstd-rust-web-dev",
    ),
)


@dataclass(frozen=True, kw_only=True)
class Release:
    """One upstream rustc version Debian can give: its flavour and exact Debian version."""

    upstream: str
    flavour: Flavour
    debian_version: str
    origin: str = ""  # the apt origin line it came from ("http://deb.debian.org/debian bullseye/main ...")

    @property
    def suite(self) -> str:
        """`bullseye`, `trixie-backports`... (from the origin; "" when unknown)."""
        parts = self.origin.split()
        return parts[1].split("/")[0] if len(parts) > 1 else ""


def releases_from_madison(rows: Iterable[MadisonRow]) -> dict[str, Release]:
    """Upstream version -> newest Debian build of it; the old flavour wins a tie (it ships a wasm32 std)."""
    by_name = {f.rustc: f for f in FLAVOURS}
    found: dict[str, Release] = {}
    for row in rows:
        flavour = by_name.get(row.package)
        upstream = upstream_version(row.version)
        if flavour is None or upstream is None:
            continue
        old = found.get(upstream)
        if old is not None:
            if FLAVOURS.index(old.flavour) < FLAVOURS.index(flavour):
                continue
            if old.flavour == flavour and compare_versions(old.debian_version, row.version) >= 0:
                continue
        found[upstream] = Release(upstream=upstream, flavour=flavour, debian_version=row.version, origin=row.origin)
    return dict(sorted(found.items(), key=lambda kv: version_key(kv[0])))


def releases_by_row(rows: Sequence[MadisonRow]) -> list[list[Release]]:
    """Each madison row as the release it offers ([] for rows of other packages or odd versions)."""
    return [list(releases_from_madison([row]).values()) for row in rows]


def unknown_version_error(version: str, releases: Mapping[str, Release]) -> UsageError:
    listed = ", ".join(f"debian:{v}" for v in releases) or "none"
    return UsageError(
        f"Debian has no rustc {version} for this machine (available: {listed})",
        hint="pick one of those, or use rustup:/path: for other versions",
    )


def libc_needed(paragraphs: Iterable[Paragraph]) -> str | None:
    """The highest `libc6 (>= X)` any of these packages depends on (None: no versioned libc6 dependency)."""
    needed: str | None = None
    for para in paragraphs:
        for group in parse_depends(para.get("Depends", "")) + parse_depends(para.get("Pre-Depends", "")):
            for dep in group:
                if dep.name == "libc6" and dep.op in (">=", ">>") and dep.version and (
                        needed is None or compare_versions(dep.version, needed) > 0):
                    needed = dep.version
    return needed


def runs_with(paragraphs: Iterable[Paragraph], libc: str | None) -> str | None:
    """Why binaries of these packages cannot run with this machine's libc6 `libc`, or None when they can."""
    needed = libc_needed(paragraphs)
    if needed is None or libc is None or compare_versions(libc, needed) >= 0:
        return None
    return f"needs glibc {upstream_glibc(needed)} (this machine has {upstream_glibc(libc)})"


def upstream_glibc(version: str) -> str:
    """ "2.36-9+deb12u14" -> "2.36"."""
    return _split_version(version)[1].split("+")[0].split("~")[0]


# ---------------------------------------------------------------------------------------------------------
# Planning which .debs to unpack

# Packages that must come from the system, never from a side-by-side prefix: compilers and the C library
# are found through absolute paths (/usr/lib/gcc, /lib64/ld-linux...) and cannot be relocated.
SYSTEM_ONLY = frozenset(
    {
        "libc6",
        "libc-dev",
        "libc6-dev",
        "libgcc-s1",
        "libstdc++6",
        "gcc",
        "clang",
        "c-compiler",
        "binutils",
        "cc",
        "debconf",
        "dpkg",
    }
)
SYSTEM_HINT = (
    "install them with `apt-get install gcc binutils libc6-dev` (they cannot be unpacked side by side)"
)

_LLVM_RE = re.compile(r"^libllvm([0-9]+)$")


@dataclass(frozen=True, kw_only=True)
class Plan:
    """Exact (package, version) pairs to unpack into one prefix, plus why each is there."""

    packages: dict[str, str]  # name -> Debian version, in discovery order
    reasons: dict[str, str]  # name -> "root" or the package that pulled it in
    missing_system: tuple[str, ...] = ()  # dependencies only the system can provide and it does not


Lookup = Callable[[Sequence[str]], Mapping[str, Sequence[Paragraph]]]


def _candidates(paragraphs: Sequence[Paragraph], dep: Dep) -> list[Paragraph]:
    """Paragraphs of `dep.name` that meet its version relation, newest first."""
    fitting = [p for p in paragraphs if satisfies(p.get("Version", ""), dep.op, dep.version)]
    return sorted(fitting, key=functools.cmp_to_key(_newer_first))


def _newer_first(a: Paragraph, b: Paragraph) -> int:
    return compare_versions(b["Version"], a["Version"])


def plan_packages(
    roots: Sequence[tuple[str, str]],
    *,
    lookup: Lookup,
    installed: Installed,
    own_sources: frozenset[str],
) -> Plan:
    """Close `roots` (exact name=version pairs) over Depends/Pre-Depends.

    A dependency is skipped when the system already satisfies it, except packages built from `own_sources`
    (the Rust source package itself): rustc finds its std relative to its own binary, so those are always
    unpacked. Of alternatives, the first that is installed wins, else the first that can be downloaded.
    `lookup(names)` returns every known paragraph (all versions) per name.
    """
    chosen: dict[str, Paragraph] = {}
    reasons: dict[str, str] = {}
    missing: list[str] = []
    queue: list[tuple[Paragraph, str]] = []

    root_index = lookup([name for name, _ in roots])
    for name, version in roots:
        match = [p for p in root_index.get(name, ()) if p.get("Version") == version]
        if not match:
            raise ProvisionError(
                f"package {name}={version} is not in the apt index",
                hint="run `apt-get update` and retry",
            )
        chosen[name] = match[0]
        reasons[name] = "root"
        queue.append((match[0], name))

    def provided_by_chosen(dep: Dep) -> bool:
        if dep.name in chosen:
            return satisfies(chosen[dep.name]["Version"], dep.op, dep.version)
        for para in chosen.values():
            for group in parse_depends(para.get("Provides", "")):
                for prov in group:
                    if prov.name == dep.name and (
                        dep.op is None
                        or (prov.op == "=" and satisfies(prov.version or "", dep.op, dep.version))
                    ):
                        return True
        return False

    while queue:
        para, name = queue.pop(0)
        groups = parse_depends(para.get("Pre-Depends", "")) + parse_depends(para.get("Depends", ""))
        known = lookup(sorted({d.name for g in groups for d in g} - chosen.keys()))
        for group in groups:
            if any(provided_by_chosen(d) for d in group):
                continue
            own = [
                c
                for d in group
                for c in _candidates(known.get(d.name, ()), d)
                if c.get("Source", c.get("Package", "")).split(" ")[0] in own_sources
            ]
            if own:
                pick = own[0]
            elif any(installed.satisfies(d) for d in group):
                continue
            elif any(d.name in SYSTEM_ONLY for d in group):
                missing.append(" | ".join(str(d) for d in group))
                continue
            else:
                options = [c for d in group for c in _candidates(known.get(d.name, ()), d)[:1]]
                if not options:
                    raise ProvisionError(
                        f"cannot satisfy {' | '.join(str(d) for d in group)} (needed by {name})",
                        hint="run `apt-get update`; the package may have left the archive",
                    )
                pick = options[0]
            pick_name = pick["Package"]
            chosen[pick_name] = pick
            reasons[pick_name] = name
            queue.append((pick, pick_name))
    return Plan(
        packages={n: p["Version"] for n, p in chosen.items()},
        reasons=reasons,
        missing_system=tuple(dict.fromkeys(missing)),
    )


def newest(paragraphs: Sequence[Paragraph]) -> Paragraph:
    """The paragraph with the highest Debian version."""
    best = paragraphs[0]
    for para in paragraphs[1:]:
        if compare_versions(para["Version"], best["Version"]) > 0:
            best = para
    return best


def llvm_major(paragraphs: Iterable[Paragraph]) -> int | None:
    """The LLVM major the Rust std links against (libllvmN in its Depends): picks lld-N for rust-lld."""
    for para in paragraphs:
        for group in parse_depends(para.get("Depends", "")):
            for dep in group:
                match = _LLVM_RE.match(dep.name)
                if match:
                    return int(match.group(1))
    return None


def pick_cargo(paragraphs: Sequence[Paragraph], flavour: Flavour, rustc_version: str) -> Paragraph | None:
    """Newest cargo of the flavour whose Depends accept this rustc (the old cargo has its own numbers)."""
    best: Paragraph | None = None
    for para in paragraphs:
        ok = True
        for group in parse_depends(para.get("Depends", "")):
            rustc_deps = [d for d in group if d.name == flavour.rustc]
            if rustc_deps and not any(satisfies(rustc_version, d.op, d.version) for d in rustc_deps):
                ok = False
        if ok and (best is None or compare_versions(para["Version"], best["Version"]) > 0):
            best = para
    return best


def deb_filename(para: Paragraph) -> str:
    """Cache file name of a package: the archive's pool name (unique per name, version and architecture)."""
    filename = para.get("Filename")
    if filename:
        return Path(filename).name
    version = para["Version"].split(":", 1)[-1]
    return f"{para['Package']}_{version}_{para.get('Architecture', 'all')}.deb"


# ---------------------------------------------------------------------------------------------------------
# A private apt configuration: Debian's archive beyond the machine's own sources (never /etc/apt)

ARCHIVE = "http://deb.debian.org/debian"
SECURITY = "http://deb.debian.org/debian-security"
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
# Suites that carry rustc: old stable releases (bullseye: 1.48, rustc-web 1.78), this one (bookworm: 1.63 and the
# rustc-web updates), newer ones (trixie, sid, experimental, backports), whose binaries may need a newer glibc.
ARCHIVE_SUITES = ("bullseye", "bullseye-updates", "bookworm", "bookworm-updates", "bookworm-backports", "trixie",
                  "trixie-updates", "trixie-backports", "sid", "experimental")
SECURITY_SUITES = ("bullseye-security", "bookworm-security", "trixie-security")
LISTS_MAX_AGE = 7 * 24 * 3600.0  # refreshed weekly (security updates move versions)


def private_sources() -> str:
    """deb822 sources for the private configuration."""
    stanza = "Types: deb\nURIs: {uri}\nSuites: {suites}\nComponents: main\nSigned-By: {keyring}\n"
    return "\n".join(stanza.format(uri=uri, suites=" ".join(suites), keyring=KEYRING)
                     for uri, suites in ((ARCHIVE, ARCHIVE_SUITES), (SECURITY, SECURITY_SUITES)))


def private_config(root: Path, architecture: str) -> Path:
    """Write (idempotently) an apt configuration under `root` that reads only its own sources, lists and cache,
    and return the apt.conf to point APT_CONFIG at."""
    for sub in ("sources.list.d", "preferences.d", "lists/partial", "cache/archives/partial"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "sources.list.d" / "debian.sources").write_text(private_sources())
    conf = root / "apt.conf"
    text = "".join(f'{key} "{value}";\n' for key, value in (
        ("Dir::Etc::SourceList", "/dev/null"),
        ("Dir::Etc::SourceParts", root / "sources.list.d"),
        ("Dir::Etc::Preferences", "/dev/null"),
        ("Dir::Etc::PreferencesParts", root / "preferences.d"),
        ("Dir::State::Lists", root / "lists"),
        ("Dir::Cache", root / "cache"),
        ("Acquire::Languages", "none"),
        ("Acquire::IndexTargets::deb::DEP-11::DefaultEnabled", "false"),
        ("Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled", "false"),
    )) + f'APT::Architectures {{ "{architecture}"; }};\n'
    if not conf.is_file() or conf.read_text() != text:
        conf.write_text(text)
    return conf


# ---------------------------------------------------------------------------------------------------------
# I/O: the apt and dpkg programs

APT_TIMEOUT = 120.0
DOWNLOAD_TIMEOUT = 1800.0


class Apt:
    """The apt/dpkg programs of this machine; every call goes through processes.run."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self.env = dict(env) if env is not None else None
        # LANG=C keeps apt's output parseable; apt's own translations would break parse_madison.
        if self.env is not None:
            self.env["LC_ALL"] = "C"

    @staticmethod
    def check_machine() -> None:
        """Raise ProvisionError unless apt-cache, apt-get, dpkg-query and dpkg-deb exist."""
        missing = [p for p in ("apt-cache", "apt-get", "dpkg-query", "dpkg-deb") if shutil.which(p) is None]
        if missing:
            raise ProvisionError(
                f"the debian: toolchain provider needs a Debian machine ({', '.join(missing)} not found)",
                hint="use rustup: or path: toolchains on this machine",
            )

    def madison(self, names: Sequence[str]) -> list[MadisonRow]:
        result = processes.run(
            ["apt-cache", "madison", *names], env=self.env, timeout=APT_TIMEOUT, what="apt-cache"
        )
        return parse_madison(result.output)

    def show(self, names: Sequence[str]) -> dict[str, list[dict[str, str]]]:
        """Every version apt knows of each name (names it does not know are absent, not an error)."""
        index: dict[str, list[dict[str, str]]] = {}
        if not names:
            return index
        # `apt-cache show` fails on a purely virtual name; --no-all-versions would hide older builds we want.
        result = processes.run(["apt-cache", "show", *names], env=self.env, timeout=APT_TIMEOUT, check=False)
        paragraphs = parse_control(result.output)
        if result.returncode != 0 and not paragraphs and len(names) > 1:
            # One unknown name fails the whole call on some apt versions: ask one by one.
            for name in names:
                index.update(self.show([name]))
            return index
        for para in paragraphs:
            if "Package" in para and "Version" in para:
                index.setdefault(para["Package"], []).append(para)
        return index

    def update(self, *, log: Path | None = None) -> None:
        """`apt-get update` of this configuration (a private one: its own lists, never /etc/apt's)."""
        processes.run(["apt-get", "update", "-q"], env=self.env, timeout=DOWNLOAD_TIMEOUT, log=log,
                      what="apt-get update (private configuration)")

    def architecture(self) -> str:
        return processes.run(["dpkg", "--print-architecture"], env=self.env, timeout=APT_TIMEOUT,
                             what="dpkg").output.strip() or "amd64"

    def installed(self) -> Installed:
        # dpkg-query expands the \t and \n escapes itself.
        fmt = r"${Package}\t${Version}\t${db:Status-Abbrev}\t${Provides}\n"
        result = processes.run(
            ["dpkg-query", "-W", "-f", fmt], env=self.env, timeout=APT_TIMEOUT, what="dpkg-query"
        )
        return parse_dpkg_query(result.output)

    def download(
        self, paragraphs: Sequence[Paragraph], into: Path, *, log: Path | None = None
    ) -> tuple[list[Path], int]:
        """Ensure a verified .deb of each paragraph is in `into`; return the paths and the number fetched."""
        into.mkdir(parents=True, exist_ok=True)
        wanted = {deb_filename(p): p for p in paragraphs}
        missing = [p for name, p in wanted.items() if not _deb_ok(into / name, p)]
        if missing:
            # apt-get writes straight into the cwd: use a private directory so a failure leaves no half file.
            tmp = Path(tempfile.mkdtemp(prefix=".download-", dir=into))
            try:
                processes.run(
                    ["apt-get", "download", *(f"{p['Package']}={p['Version']}" for p in missing)],
                    env=self.env,
                    cwd=tmp,
                    timeout=DOWNLOAD_TIMEOUT,
                    log=log,
                    what="apt-get download",
                )
                for para in missing:
                    got = _find_download(tmp, para)
                    if got is None or not _deb_ok(got, para):
                        raise ProvisionError(
                            f"apt-get download gave no valid file for {para['Package']}={para['Version']}",
                            hint="run `apt-get update` and retry",
                        )
                    got.replace(into / deb_filename(para))
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        return [into / name for name in wanted], len(missing)

    def unpack(self, deb: Path, prefix: Path, *, log: Path | None = None) -> None:
        processes.run(["dpkg-deb", "-x", deb, prefix], env=self.env, timeout=600, log=log, what="dpkg-deb -x")


def _find_download(directory: Path, para: Paragraph) -> Path | None:
    for path in directory.glob(f"{para['Package']}_*.deb"):
        return path
    return None


def _deb_ok(path: Path, para: Paragraph) -> bool:
    """A cached .deb is trusted only when its size and SHA256 match the apt index."""
    if not path.is_file():
        return False
    size = para.get("Size")
    if size is not None and path.stat().st_size != int(size):
        return False
    expected = para.get("SHA256")
    if expected:
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        return digest.hexdigest() == expected
    return True


def relativize_symlinks(prefix: Path) -> int:
    """Rewrite absolute symlinks that point into the unpacked tree as relative ones (the prefix can move)."""
    count = 0
    for link in [p for p in prefix.rglob("*") if p.is_symlink()]:
        target = link.readlink()
        if not target.is_absolute():
            continue
        inside = prefix / target.relative_to("/")
        if not (inside.exists() or inside.is_symlink()):
            continue  # points at the system (e.g. /etc/alternatives): leave it
        link.unlink()
        link.symlink_to(os.path.relpath(inside, link.parent))
        count += 1
    return count
