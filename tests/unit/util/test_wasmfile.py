"""wasmfile: the target_features reader on handcrafted modules (no toolchain needed)."""

from __future__ import annotations

import pytest

from wasm_bisect.util.wasmfile import (
    WasmFormatError,
    custom_sections,
    has_feature,
    parse_target_features,
    read_target_features,
)

HEADER = b"\0asm\x01\0\0\0"


def uleb(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def name(text: str) -> bytes:
    raw = text.encode()
    return uleb(len(raw)) + raw


def section(section_id: int, payload: bytes) -> bytes:
    return bytes([section_id]) + uleb(len(payload)) + payload


def custom(section_name: str, payload: bytes) -> bytes:
    return section(0, name(section_name) + payload)


def features_payload(*entries: str) -> bytes:
    return uleb(len(entries)) + b"".join(e[0].encode() + name(e[1:]) for e in entries)


TYPE_SECTION = section(1, uleb(1) + b"\x60\x02\x7f\x7f\x01\x7f")  # (i32, i32) -> i32


def test_reads_target_features_after_other_sections() -> None:
    module = (
        HEADER
        + TYPE_SECTION
        + custom("producers", b"\x00")
        + custom("target_features", features_payload("+mutable-globals", "+reference-types", "-atomics"))
    )
    assert read_target_features(module) == ["+mutable-globals", "+reference-types", "-atomics"]


def test_no_section_reads_as_empty() -> None:
    assert read_target_features(HEADER + TYPE_SECTION) == []
    assert read_target_features(HEADER) == []


def test_long_section_size_uses_multibyte_leb128() -> None:
    padding = custom("name", b"x" * 300)  # size > 127 needs two LEB128 bytes
    module = HEADER + padding + custom("target_features", features_payload("+sign-ext"))
    assert read_target_features(module) == ["+sign-ext"]
    assert [n for n, _ in custom_sections(module)] == ["name", "target_features"]


def test_has_feature_ignores_disallowed() -> None:
    features = ["+reference-types", "-multivalue", "=bulk-memory"]
    assert has_feature(features, "reference-types")
    assert has_feature(features, "bulk-memory")
    assert not has_feature(features, "multivalue")
    assert not has_feature(features, "simd128")


@pytest.mark.parametrize(
    "module",
    [
        b"\0wasm\x01\0\0\0",  # bad magic
        b"\0asm\x02\0\0\0",  # unknown version
        HEADER + b"\x00\x10abc",  # section longer than the module
        HEADER + b"\x00\x80",  # truncated LEB128
    ],
)
def test_malformed_modules_raise(module: bytes) -> None:
    with pytest.raises(WasmFormatError):
        read_target_features(module)


def test_bad_feature_prefix_raises() -> None:
    with pytest.raises(WasmFormatError, match="prefix"):
        parse_target_features(uleb(1) + b"?" + name("simd128"))
    with pytest.raises(WasmFormatError, match="ends early"):
        parse_target_features(uleb(2) + b"+" + name("simd128"))
