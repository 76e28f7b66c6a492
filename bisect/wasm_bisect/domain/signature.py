"""The one validator of a failure signature (--signature, config `signature`, template.toml
`failure_signature`): bounded before it is compiled. Pure: no I/O."""

from __future__ import annotations

import re

from wasm_bisect.domain.errors import UsageError

SIGNATURE_MAX_CHARS = 2000
SIGNATURE_MAX_DEPTH = 32  # nested groups (the regex parser recurses: thousands end in RecursionError)
SIGNATURE_MAX_WEIGHT = 100_000  # atoms after counted repeats are expanded: (?:a{1000}){1000} takes 280 MB
_COUNT = re.compile(r"\{(\d*)(?:,(\d*))?\}")


def _signature_shape(pattern: str) -> tuple[int, int]:
    """(deepest group nesting, size once counted repeats are expanded), read without compiling: escapes,
    sets and comments are skipped; `X{m,n}` multiplies the size of X by max(m, n)."""
    levels: list[list[int]] = [[]]  # per open group: the sizes of its atoms so far
    deepest, i = 0, 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            if i - 1 < len(pattern) and pattern[i - 1] in "NpPgk" and pattern[i:i + 1] in ("{", "<"):
                close = pattern.find("}" if pattern[i] == "{" else ">", i)
                i = len(pattern) if close < 0 else close + 1
            levels[-1].append(1)
            continue
        if c == "[":
            j = i + 1
            j += pattern[j:j + 1] == "^"
            j += pattern[j:j + 1] == "]"
            while j < len(pattern) and pattern[j] != "]":
                j += 2 if pattern[j] == "\\" else 1
            i = j + 1
            levels[-1].append(1)
            continue
        if c == "(" and pattern.startswith("(?#", i):
            close = pattern.find(")", i)
            i = len(pattern) if close < 0 else close + 1
            continue
        if c == "(":
            levels.append([])
            deepest = max(deepest, len(levels) - 1)
        elif c == ")" and len(levels) > 1:
            inner = levels.pop()
            levels[-1].append(max(1, sum(inner)))
        elif c == "{" and (count := _COUNT.match(pattern, i)) is not None and levels[-1]:
            low, high = count.group(1), count.group(2)
            times = max(int(low or 0), int(high) if high else 0) if len(low or "") + len(high or "") < 12 else 10**12
            levels[-1][-1] *= max(times, 1)
            i = count.end()
            continue
        elif c not in "|*+?":
            levels[-1].append(1)
        i += 1
    return deepest, sum(sum(level) for level in levels)


def signature_problem(pattern: str) -> str | None:
    """Why a failure signature cannot be used, or None: the one validator of --signature, config `signature` and
    template.toml `failure_signature`. Size, nesting and expanded repeats are bounded before the pattern is
    compiled (a compile can take gigabytes or overflow the stack); matching has its own time limit."""
    import regex

    if len(pattern) > SIGNATURE_MAX_CHARS:
        return f"is longer than {SIGNATURE_MAX_CHARS} characters"
    depth, weight = _signature_shape(pattern)
    if depth > SIGNATURE_MAX_DEPTH:
        return f"nests groups {depth} deep (at most {SIGNATURE_MAX_DEPTH})"
    if weight > SIGNATURE_MAX_WEIGHT:
        return f"repeats too much: {weight:,} atoms once its counted repeats are expanded (at most " \
               f"{SIGNATURE_MAX_WEIGHT:,})"
    try:
        regex.compile(pattern)
    except regex.error as exc:
        return f"is not a valid regex: {exc}"
    except (RecursionError, OverflowError, MemoryError, ValueError) as exc:
        return f"is not a usable regex: {type(exc).__name__}"
    return None


def check_signature(pattern: str, what: str) -> str:
    """A failure signature must compile within bounds (it is matched with a time limit later)."""
    problem = signature_problem(pattern)
    if problem is not None:
        raise UsageError(f"{what} {pattern[:80]!r}{'...' if len(pattern) > 80 else ''} {problem}")
    return pattern
