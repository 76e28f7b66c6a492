"""Published release binaries of the wasm-bindgen CLI and wasm-pack: where they are, and fetching one safely.

The layout is upstream's, read from its release workflows (and the `[package.metadata.binstall]` table that
cargo-binstall reads from wasm-bindgen-cli's manifest since 0.2.91):

- wasm-bindgen: `{base}/{org}/wasm-bindgen/releases/download/{V}/wasm-bindgen-{V}-{target}.tar.gz`, a tarball
  holding `wasm-bindgen-{V}-{target}/` with `wasm-bindgen`, `wasm-bindgen-test-runner`, `wasm2es6js`, README
  and licenses (`.github/workflows/main.yml`, job `deploy`). From 0.2.88 each tarball has a
  `{tarball}.sha256sum` beside it (`sha256sum` output: hash, two spaces, path). Releases up to 0.2.100 were
  published by rustwasm/wasm-bindgen, from 0.2.101 by wasm-bindgen/wasm-bindgen (the deploy job's repository
  check moved in July 2025; cargo-binstall's pkg-url in crates/cli/Cargo.toml moved with it).
- wasm-pack: `{base}/rustwasm/wasm-pack/releases/download/v{V}/wasm-pack-v{V}-{target}.tar.gz`, holding
  `wasm-pack-v{V}-{target}/wasm-pack` (`.github/workflows/release.yml`); no checksum is published.

`{base}` is `https://github.com`, or `WASM_BISECT_RELEASES_URL` (a mirror, or a local server in tests). Every
failure here is a `PrebuiltUnavailable` naming why (refused, too slow, corrupt, wrong content); the tool cache
then builds from source (`--tools auto`) or reports it (`--tools prebuilt`).
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import platform
import tarfile
import time
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

from wasm_bisect.domain.errors import ProvisionError
from wasm_bisect.domain.options import ToolSource as ToolSource  # noqa: PLC0414 (defined in the domain)
from wasm_bisect.domain.versions import bindgen_key
from wasm_bisect.util import fs, paths

RELEASES_URL_ENV = "WASM_BISECT_RELEASES_URL"
DEFAULT_RELEASES_URL = "https://github.com"
DEADLINE_ENV = "WASM_BISECT_DOWNLOAD_DEADLINE"  # seconds for one whole download (tarball and checksum)
DEFAULT_DEADLINE = 120.0
MAX_ARCHIVE_BYTES = 256 << 20  # the 0.2.99 tarball is about 10 MiB
MAX_BINARY_BYTES = 256 << 20
FIRST_WITH_CHECKSUM = "0.2.88"  # upstream #3605 (September 2023)
LAST_FROM_RUSTWASM = "0.2.100"  # 0.2.101 and later are published by wasm-bindgen/wasm-bindgen
# Download seconds the cost model assumes for a prebuilt CLI before this machine has downloaded one.
DOWNLOAD_SECONDS = 10.0


class PrebuiltUnavailable(ProvisionError):
    """No usable published binary: refused, slow, corrupt, or not the release asked for."""


@dataclass(frozen=True, kw_only=True)
class Asset:
    """One published tarball: where it is, its checksum file (None: none published), what it holds."""

    url: str
    checksum_url: str | None
    top: str  # the archive's top-level directory
    bins: tuple[str, ...]  # the binaries to take from it


def releases_url() -> str:
    return (os.environ.get(RELEASES_URL_ENV) or DEFAULT_RELEASES_URL).rstrip("/")


def deadline_seconds() -> float:
    try:
        value = float(os.environ.get(DEADLINE_ENV, DEFAULT_DEADLINE))
    except ValueError:
        return DEFAULT_DEADLINE
    return value if value > 0 else DEFAULT_DEADLINE


def host_target() -> str | None:
    """The release target whose binaries run here (static musl builds); None: none is published for it."""
    if platform.system() != "Linux":
        return None
    return {"x86_64": "x86_64-unknown-linux-musl", "amd64": "x86_64-unknown-linux-musl"}.get(
        platform.machine().lower())


def bindgen_asset(version: str, bins: tuple[str, ...], target: str | None = None) -> Asset | None:
    """The wasm-bindgen-cli tarball of `version` for this machine (None: not published for it)."""
    target = target or host_target()
    if target is None:
        return None
    key = bindgen_key(version)
    org = "rustwasm" if key <= bindgen_key(LAST_FROM_RUSTWASM) else "wasm-bindgen"
    top = f"wasm-bindgen-{version}-{target}"
    url = f"{releases_url()}/{org}/wasm-bindgen/releases/download/{version}/{top}.tar.gz"
    checksum = f"{url}.sha256sum" if key >= bindgen_key(FIRST_WITH_CHECKSUM) else None
    return Asset(url=url, checksum_url=checksum, top=top, bins=bins)


def wasm_pack_asset(version: str, target: str | None = None) -> Asset | None:
    """The wasm-pack tarball of `version` for this machine (None: not published for it)."""
    target = target or host_target()
    if target is None:
        return None
    top = f"wasm-pack-v{version}-{target}"
    url = f"{releases_url()}/rustwasm/wasm-pack/releases/download/v{version}/{top}.tar.gz"
    return Asset(url=url, checksum_url=None, top=top, bins=("wasm-pack",))


_unreachable: set[str] = set()  # release servers a connection failed to in this process
UNREACHABLE_FILE = ".prebuilt-unreachable.json"  # in the tools dir: {base URL: when a connection failed}
UNREACHABLE_SECONDS = 3600.0  # how long such a failure stands for other runs


def unreachable() -> bool:
    """Whether the release server could not be reached in this process or in a run of the last hour (then
    missing tools are built from source at once, and the cost model counts builds, not downloads)."""
    base = releases_url()
    if base in _unreachable:
        return True
    try:
        seen = json.loads((paths.tools_dir() / UNREACHABLE_FILE).read_text()).get(base)
    except (OSError, ValueError, AttributeError):
        return False
    return isinstance(seen, int | float) and 0 <= time.time() - seen < UNREACHABLE_SECONDS


def _remember_unreachable() -> None:
    base = releases_url()
    _unreachable.add(base)
    record = paths.tools_dir() / UNREACHABLE_FILE
    with contextlib.suppress(OSError, ValueError):
        record.parent.mkdir(parents=True, exist_ok=True)
        fs.atomic_write_text(record, json.dumps({base: time.time()}))


def _download(url: str, *, until: float, limit: int) -> bytes:
    """The body of `url`, read before the monotonic deadline `until` and under `limit` bytes."""
    if unreachable():
        raise PrebuiltUnavailable(f"{releases_url()} was unreachable in the last hour")
    remaining = until - time.monotonic()
    if remaining <= 0:
        raise PrebuiltUnavailable(f"download of {url} ran out of time")
    try:
        with urllib.request.urlopen(url, timeout=min(remaining, 30.0)) as response:  # noqa: S310 - http(s) only
            chunks: list[bytes] = []
            size = 0
            while True:
                if time.monotonic() > until:
                    raise PrebuiltUnavailable(f"download of {url} took longer than {deadline_seconds():g} s")
                chunk = response.read(1 << 16)
                if not chunk:
                    break
                size += len(chunk)
                if size > limit:
                    raise PrebuiltUnavailable(f"{url} is larger than {limit >> 20} MiB")
                chunks.append(chunk)
    except urllib.error.HTTPError as exc:
        raise PrebuiltUnavailable(f"{url} answered HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(exc, urllib.error.URLError) and isinstance(reason, OSError):
            _remember_unreachable()  # no name, no route, refused: the same for every release
        raise PrebuiltUnavailable(f"cannot download {url}: {reason}") from None
    return b"".join(chunks)


def _expected_digest(text: bytes, url: str) -> str:
    words = text.decode("ascii", "replace").split()
    digest = words[0].lower() if words else ""
    if len(digest) != 64 or any(ch not in "0123456789abcdef" for ch in digest):
        raise PrebuiltUnavailable(f"{url} is not a sha256sum line")
    return digest


def fetch(asset: Asset, bin_dir: Path) -> dict[str, object]:
    """Download `asset`, check its checksum (when published), and write its binaries into `bin_dir`.

    Returns what the tool's metadata records (url, sha256, whether a published checksum matched, seconds).
    Only regular files named in `asset.bins`, under the archive's top directory, are taken."""
    start = time.monotonic()
    until = start + deadline_seconds()
    archive = _download(asset.url, until=until, limit=MAX_ARCHIVE_BYTES)
    digest = hashlib.sha256(archive).hexdigest()
    if asset.checksum_url is not None:
        expected = _expected_digest(_download(asset.checksum_url, until=until, limit=4096), asset.checksum_url)
        if expected != digest:
            raise PrebuiltUnavailable(f"{asset.url} does not match its published sha256 (corrupt download)")
    bin_dir.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
            members = {m.name.removeprefix("./"): m for m in tar.getmembers()}
            for name in asset.bins:
                member = members.get(f"{asset.top}/{name}")
                if member is None or not member.isfile() or member.size > MAX_BINARY_BYTES:
                    raise PrebuiltUnavailable(f"{asset.url} has no {asset.top}/{name}")
                source = tar.extractfile(member)
                assert source is not None  # a regular file
                target = bin_dir / name
                with source, target.open("wb") as out:
                    while chunk := source.read(1 << 20):
                        out.write(chunk)
                target.chmod(0o755)
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        # (Any other OSError, a full disk or an unwritable cache, is the environment's problem: raised as it is.)
        with contextlib.suppress(OSError):
            for name in asset.bins:
                (bin_dir / name).unlink(missing_ok=True)
        raise PrebuiltUnavailable(f"{asset.url} is not a readable tar.gz ({exc})") from None
    return {"url": asset.url, "sha256": digest, "checksum": asset.checksum_url is not None,
            "download_seconds": round(time.monotonic() - start, 3)}
