"""The wasm-bindgen release list: the crates.io sparse index when reachable, else a cached or bundled copy."""

from __future__ import annotations

import contextlib
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence

from wasm_bisect.domain import versions
from wasm_bisect.domain.errors import UsageError
from wasm_bisect.domain.versions import Release
from wasm_bisect.util import fs, paths

INDEX_URL = "https://index.crates.io/wa/sm/{name}"
CACHE_SECONDS = 24 * 3600
TIMEOUT = 10  # seconds per socket operation
DEADLINE = 20.0  # seconds for the whole fetch: a proxy that trickles a byte every few seconds never trips TIMEOUT
MAX_BYTES = 8 << 20  # the wasm-bindgen entry is ~200 KB


def _fetch(name: str) -> str:
    url = INDEX_URL.format(name=name)  # a fixed https URL: no file: or custom schemes can reach urlopen
    request = urllib.request.Request(url, headers={"User-Agent": "wasm-bisect"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
        data = response.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise ValueError(f"the index entry of {name} is larger than {MAX_BYTES:,} bytes")
    return str(data.decode())


def _bounded(name: str, deadline: float) -> str:
    """The index entry of `name`, or an OSError once `deadline` (monotonic) passes, whatever the network does:
    connecting, the proxy's answer and every read run in a daemon thread that is abandoned at the deadline."""
    box: dict[str, object] = {}

    def work() -> None:
        try:
            box["text"] = _fetch(name)
        except Exception as exc:  # handed to the caller as is
            box["error"] = exc

    worker = threading.Thread(target=work, name=f"index-{name}", daemon=True)
    worker.start()
    worker.join(max(0.0, deadline - time.monotonic()))
    if worker.is_alive():
        raise TimeoutError(f"no complete answer within {DEADLINE:.0f} s")
    error = box.get("error")
    if isinstance(error, Exception):
        raise error
    return str(box["text"])


def fetch_releases() -> list[Release]:
    """Library and CLI entries from the live index, merged (yanked flags from both), within DEADLINE."""
    deadline = time.monotonic() + DEADLINE
    library = versions.parse_sparse_index(_bounded("wasm-bindgen", deadline))
    cli = versions.parse_sparse_index(_bounded("wasm-bindgen-cli", deadline))
    floor = versions.bindgen_key("0.2.50")
    return [r for r in versions.merge_cli(library, cli) if versions.bindgen_key(r.version) >= floor]


_unreachable = False  # the index failed once in this process: offline, every further try costs its time-out


def releases(*, refresh: bool = False, notice: Callable[[str], None] | None = None) -> list[Release]:
    """Ordered releases: a fresh cache, else the index (cached for a day), else the bundled list. An index that
    did not answer is not asked again by the same process (unless `refresh`)."""
    global _unreachable  # noqa: PLW0603 - one process-wide fact, like the cache file across processes
    cache = paths.home() / "index" / "bindgen_versions.toml"
    if not refresh and cache.is_file() and time.time() - cache.stat().st_mtime < CACHE_SECONDS:
        with contextlib.suppress(Exception):  # a damaged cache is simply fetched again
            return versions.releases_from_toml(cache.read_text())
    if _unreachable and not refresh:
        return list(versions.bundled_releases())
    try:
        fetched = fetch_releases()
    except (OSError, urllib.error.URLError, ValueError) as exc:
        _unreachable = True
        if notice:
            notice(f"crates.io index unreachable ({exc}); using the bundled wasm-bindgen release list")
        return list(versions.bundled_releases())
    fs.atomic_write_text(cache, versions.releases_to_toml(fetched, header="cached from the crates.io index"))
    return fetched


def check_published(named: Sequence[tuple[str, str]], *, notice: Callable[[str], None] | None = None) -> None:
    """Each (version, what) must be a published wasm-bindgen release, checked before anything is provisioned
    or built: an unpublished version would otherwise start a `cargo install` that can only fail. The release
    list is read once, and not at all when nothing is named (syntax is the caller's, checked first)."""
    if not named:
        return
    known = {r.version for r in releases(notice=notice)}
    for version, what in named:
        if version not in known:
            raise UsageError(f"{what} {version} is not a published wasm-bindgen release",
                             hint="see `wasm-bisect versions`")
