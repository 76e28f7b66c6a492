"""rustup's dist server: the stable release list (bundled, refreshed from the channel manifest) and the v2
channel manifest format (`dist/channel-rust-<channel>.toml`, read the way rustup's src/dist/manifest.rs does).

Pure apart from `fetch_text` and `stable_releases`, which read the server named by RUSTUP_DIST_SERVER.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from wasm_bisect.domain.errors import ProvisionError
from wasm_bisect.domain.versions import rust_release
from wasm_bisect.util import fs, paths

DEFAULT_DIST_SERVER = "https://static.rust-lang.org"
RELEASES_DATA = "rust_releases.toml"
CACHE_SECONDS = 24 * 3600
TIMEOUT = 10.0
WASM_TARGET = "wasm32-unknown-unknown"
_VERSION_RE = re.compile(r"^([0-9]+\.[0-9]+\.[0-9]+)")


def dist_server() -> str:
    """RUSTUP_DIST_SERVER as rustup reads it (no trailing slash), else the official server."""
    return (os.environ.get("RUSTUP_DIST_SERVER") or DEFAULT_DIST_SERVER).rstrip("/")


def manifest_url(channel: str, server: str | None = None) -> str:
    """Where rustup fetches a channel's v2 manifest: `nightly-2024-02-01` -> dist/2024-02-01/channel-rust-nightly.toml,
    `1.79.0` -> dist/channel-rust-1.79.0.toml (rustup's ToolchainDesc::manifest_v2_url)."""
    root = f"{server or dist_server()}/dist"
    dated = re.fullmatch(r"(nightly|beta|stable)-([0-9]{4}-[0-9]{2}-[0-9]{2})", channel)
    if dated:
        return f"{root}/{dated[2]}/channel-rust-{dated[1]}.toml"
    return f"{root}/channel-rust-{channel}.toml"


@dataclass(frozen=True, kw_only=True)
class ChannelManifest:
    """What a v2 channel manifest says about one release, for one host."""

    date: str
    rust_version: str  # "1.99.1 (58cf8f9c3 2026-10-13)"
    release: str | None  # "1.99.1"; None when the version does not start with X.Y.Z
    std_targets: frozenset[str]  # rust-std targets that are available for download
    has_rust_src: bool
    minimal: tuple[str, ...]  # the minimal profile's components (rustc, cargo, rust-std...)

    @property
    def has_wasm32(self) -> bool:
        return WASM_TARGET in self.std_targets


def _available(targets: Mapping[str, Any], name: str) -> bool:
    entry = targets.get(name)
    if not isinstance(entry, Mapping) or not entry.get("available"):
        return False
    # rustup downloads the first of zst_url, xz_url, url that comes with its hash.
    return any(entry.get(url) and entry.get(digest)
               for url, digest in (("zst_url", "zst_hash"), ("xz_url", "xz_hash"), ("url", "hash")))


def parse_channel_manifest(text: str) -> ChannelManifest:
    """A channel-rust-*.toml; ProvisionError when it is not a v2 manifest with a `rust` package."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProvisionError(f"the channel manifest is not TOML: {exc}") from None
    packages = data.get("pkg")
    if str(data.get("manifest-version")) != "2" or not isinstance(packages, Mapping) or "rust" not in packages:
        raise ProvisionError("the channel manifest is not a v2 manifest with a [pkg.rust] package")
    rust = packages["rust"]
    version = str(rust.get("version", "")) if isinstance(rust, Mapping) else ""
    match = _VERSION_RE.match(version)
    std = packages.get("rust-std", {})
    std_targets = std.get("target", {}) if isinstance(std, Mapping) else {}
    src = packages.get("rust-src", {})
    src_targets = src.get("target", {}) if isinstance(src, Mapping) else {}
    profiles = data.get("profiles", {})
    minimal = profiles.get("minimal", []) if isinstance(profiles, Mapping) else []
    return ChannelManifest(
        date=str(data.get("date", "")),
        rust_version=version,
        release=match[1] if match else None,
        std_targets=frozenset(t for t in std_targets if _available(std_targets, t)),
        has_rust_src=_available(src_targets, "*"),
        minimal=tuple(str(c) for c in minimal),
    )


def fetch_text(url: str, *, timeout: float = TIMEOUT) -> str:
    """GET `url` (http or https only: RUSTUP_DIST_SERVER may name a local mirror)."""
    if not url.startswith(("https://", "http://")):
        raise ProvisionError(f"RUSTUP_DIST_SERVER must be an http(s) URL, not {url!r}")
    request = urllib.request.Request(url, headers={"User-Agent": "wasm-bisect"})  # noqa: S310 - scheme checked
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - scheme checked
        return str(response.read().decode())


# ---------------------------------------------------------------------------------------------------------
# The stable release list


def releases_from_toml(text: str) -> list[str]:
    data = tomllib.loads(text)
    found = [str(r["version"]) for r in data.get("release", []) if isinstance(r, Mapping) and "version" in r]
    return sorted(dict.fromkeys(found), key=rust_release)


def releases_to_toml(versions: Sequence[str], *, header: str) -> str:
    body = "\n".join(f'[[release]]\nversion = "{v}"\n' for v in versions)
    return f"# {header}\n\n{body}"


def bundled_stable() -> list[str]:
    """The stable releases shipped in data/rust_releases.toml."""
    text = resources.files("wasm_bisect").joinpath("data", RELEASES_DATA).read_text(encoding="utf-8")
    return releases_from_toml(text)


def merge_current(known: Sequence[str], current: str) -> list[str]:
    """`known` plus the current stable `current` and every X.Y.0 between the newest known and it."""
    merged = list(known)
    newest = max((rust_release(v) for v in known), default=(1, 0, 0))
    major, minor, _ = rust_release(current)
    if major == newest[0]:
        merged += [f"{major}.{m}.0" for m in range(newest[1] + 1, minor + 1)]
    merged.append(current)
    return sorted(dict.fromkeys(merged), key=rust_release)


_unreachable: set[str] = set()  # servers that failed in this process: not asked again


def stable_releases(*, refresh: bool = False, notice: Callable[[str], None] | None = None) -> list[str]:
    """Stable releases: a fresh cache, else the bundled list merged with the server's current stable (cached
    for a day), else the bundled list (offline)."""
    server = dist_server()
    digest = hashlib.sha256(server.encode()).hexdigest()[:10]
    cache = paths.home() / "index" / f"rust_releases-{digest}.toml"  # one per dist server
    if not refresh and cache.is_file() and time.time() - cache.stat().st_mtime < CACHE_SECONDS:
        with contextlib.suppress(Exception):  # a damaged cache is fetched again
            cached = releases_from_toml(cache.read_text())
            if cached:
                return cached
    bundled = bundled_stable()
    if server in _unreachable and not refresh:
        return bundled
    try:
        current = parse_channel_manifest(fetch_text(manifest_url("stable", server))).release
    except (OSError, urllib.error.URLError, ValueError, ProvisionError) as exc:
        _unreachable.add(server)
        if notice:
            notice(f"{server} unreachable ({exc}); using the bundled list of stable Rust releases")
        return bundled
    merged = merge_current(bundled, current) if current else bundled
    fs.atomic_write_text(cache, releases_to_toml(merged, header=f"cached from {manifest_url('stable', server)}"))
    return merged
