"""The identity of a run that is not a grid's: verify and bisect-commits key their runs on it."""

from __future__ import annotations

import hashlib
import json


def fingerprint_of(*parts: object) -> str:
    """A short stable hash of JSON-able parts (run identities of verify and bisect-commits)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]
