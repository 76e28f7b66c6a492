"""Untrusted structured input, bounded: a file's size is checked with stat before it is read, TOML and JSON are
parsed with size and depth limits, so no RecursionError, MemoryError or decode error ever reaches the user.

Every function raises the WasmBisectError subclass its caller names (`error=`), with a one-line message.
"""

from __future__ import annotations

import json
import stat
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from wasm_bisect.domain.errors import UsageError, WasmBisectError

ErrorType = Callable[..., WasmBisectError]
MAX_DEPTH = 64  # nesting of tables/arrays in config, manifests, stdin and stored JSON: far beyond any real file


def human(size: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size} {unit}" if unit == "bytes" else f"{size:.0f} {unit}"
        size //= 1024
    return f"{size} GiB"  # pragma: no cover - the loop returns


def read_bytes(path: Path, *, limit: int, what: str, error: ErrorType = UsageError) -> bytes:
    """A regular file's bytes, at most `limit`: stat first (a FIFO or device is never opened, a huge file never
    read), then read at most limit + 1 bytes (a file that grew meanwhile is still refused)."""
    try:
        info = path.stat()
    except OSError as exc:
        raise error(f"cannot read {what} {path}: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise error(f"{what} {path} is not a regular file")
    if info.st_size > limit:
        raise error(f"{what} {path} is too large ({human(info.st_size)}; at most {human(limit)})")
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise error(f"cannot read {what} {path}: {exc.strerror}") from None
    if len(data) > limit:
        raise error(f"{what} {path} is too large (more than {human(limit)})")
    return data


def read_text(path: Path, *, limit: int, what: str, error: ErrorType = UsageError) -> str:
    """`read_bytes`, decoded as UTF-8 (anything else is refused, not replaced)."""
    try:
        return read_bytes(path, limit=limit, what=what, error=error).decode()
    except UnicodeDecodeError:
        raise error(f"{what} {path} is not UTF-8 text") from None


def read_stream(stream: IO[bytes] | IO[str], *, limit: int, what: str, error: ErrorType = UsageError) -> str:
    """At most `limit` bytes of a stream (stdin: its binary buffer, so bad UTF-8 is refused, not a crash)."""
    raw = stream.read(limit + 1)
    data = raw.encode() if isinstance(raw, str) else raw
    if len(data) > limit:
        raise error(f"{what} is too large (more than {human(limit)})")
    try:
        return data.decode()
    except UnicodeDecodeError:
        raise error(f"{what} is not UTF-8 text") from None


def depth(value: Any) -> int:
    """Nesting depth of lists and dicts (iterative: a deep value cannot exhaust the stack here)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children)
    return deepest


def _shallow(value: Any, what: str, error: ErrorType, max_depth: int) -> Any:
    if depth(value) > max_depth:
        raise error(f"{what} nests tables or arrays more than {max_depth} deep")
    return value


def toml_loads(text: str, *, what: str, error: ErrorType = UsageError, max_depth: int = MAX_DEPTH) -> dict[str, Any]:
    """Parse TOML; malformed or absurdly nested text is one error line naming `what`."""
    try:
        data = tomllib.loads(text)
    except RecursionError:
        raise error(f"{what} nests tables or arrays too deeply") from None
    except ValueError as exc:  # TOMLDecodeError, and integers longer than Python converts
        raise error(f"{what} is not valid TOML: {(str(exc).splitlines() or ['?'])[0]}") from None
    result: dict[str, Any] = _shallow(data, what, error, max_depth)
    return result


def json_loads(text: str | bytes, *, what: str, limit: int, error: ErrorType = UsageError,
               max_depth: int = MAX_DEPTH) -> Any:
    """Parse JSON of at most `limit` characters and `max_depth` levels; anything else is one error line."""
    if len(text) > limit:
        raise error(f"{what} is too large (more than {human(limit)})")
    try:
        data = json.loads(text)
    except RecursionError:
        raise error(f"{what} nests arrays or objects too deeply") from None
    except ValueError as exc:  # JSONDecodeError, and ints longer than Python converts
        raise error(f"{what} is not valid JSON: {exc}") from None
    return _shallow(data, what, error, max_depth)
