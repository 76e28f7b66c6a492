"""A cell's build profile in wasm-pack's and cargo's words: the one table (the profile itself is a variant option).
Pure."""

from __future__ import annotations

# profile -> (`wasm-pack build` flag, cargo's directory under target/wasm32-unknown-unknown/)
_PROFILES = {"release": ("--release", "release"), "dev": ("--dev", "debug"), "profiling": ("--profiling", "release")}


def build_flag(profile: str) -> str:
    """`wasm-pack build`'s flag for the profile."""
    return _PROFILES[profile][0]


def test_flags(profile: str) -> list[str]:
    """`wasm-pack test`'s flags for the profile: it builds tests in dev unless told --release."""
    return ["--release"] if profile == "release" else []


def target_subdir(profile: str) -> str:
    """Where cargo puts the profile's artifacts under the target triple's directory."""
    return _PROFILES[profile][1]
