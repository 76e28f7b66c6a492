"""Read the few facts the tool needs from a .wasm module (custom sections). Pure: bytes in, values out."""

from __future__ import annotations

WASM_MAGIC = b"\0asm"
WASM_VERSION = b"\x01\0\0\0"
TARGET_FEATURES = "target_features"
_CUSTOM_SECTION_ID = 0


class WasmFormatError(ValueError):
    """The bytes are not a well-formed WebAssembly binary (as far as this reader looks)."""


def _uleb128(data: bytes, pos: int) -> tuple[int, int]:
    """Decode an unsigned LEB128 at `pos`; return (value, position after it)."""
    result = 0
    shift = 0
    while True:
        if pos >= len(data):
            raise WasmFormatError("truncated LEB128 integer")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 35:  # a u32 never needs more than 5 bytes
            raise WasmFormatError("LEB128 integer too long")


def _name(data: bytes, pos: int, end: int) -> tuple[str, int]:
    length, pos = _uleb128(data, pos)
    if pos + length > end:
        raise WasmFormatError("name runs past its section")
    try:
        return data[pos : pos + length].decode("utf-8"), pos + length
    except UnicodeDecodeError as exc:
        raise WasmFormatError("name is not UTF-8") from exc


def custom_sections(wasm: bytes) -> list[tuple[str, bytes]]:
    """All custom sections as (name, payload), in module order."""
    if wasm[:4] != WASM_MAGIC:
        raise WasmFormatError("not a WebAssembly module (bad magic)")
    if wasm[4:8] != WASM_VERSION:
        raise WasmFormatError("unsupported WebAssembly binary version")
    sections: list[tuple[str, bytes]] = []
    pos = 8
    while pos < len(wasm):
        section_id = wasm[pos]
        size, pos = _uleb128(wasm, pos + 1)
        end = pos + size
        if end > len(wasm):
            raise WasmFormatError(f"section {section_id} runs past the end of the module")
        if section_id == _CUSTOM_SECTION_ID:
            name, payload_start = _name(wasm, pos, end)
            sections.append((name, wasm[payload_start:end]))
        pos = end
    return sections


def parse_target_features(payload: bytes) -> list[str]:
    """Decode a `target_features` payload: a vector of (prefix '+', '-' or '=', feature name)."""
    count, pos = _uleb128(payload, 0)
    features: list[str] = []
    for _ in range(count):
        if pos >= len(payload):
            raise WasmFormatError("target_features ends early")
        prefix = chr(payload[pos])
        if prefix not in "+-=":
            raise WasmFormatError(f"target_features has unknown prefix {prefix!r}")
        name, pos = _name(payload, pos + 1, len(payload))
        features.append(prefix + name)
    return features


def read_target_features(wasm: bytes) -> list[str]:
    """Features the linker recorded, e.g. ["+mutable-globals", "+reference-types"]; [] without a section.

    rustc >= 1.82 with the default std lists "+reference-types"; a module built against an mvp std has no
    `target_features` section at all, which is why "absent" and "empty" both read as [].
    """
    features: list[str] = []
    for name, payload in custom_sections(wasm):
        if name == TARGET_FEATURES:
            features.extend(parse_target_features(payload))
    return features


PRODUCERS = "producers"


def parse_producers(payload: bytes) -> dict[str, list[tuple[str, str]]]:
    """Decode a `producers` payload: fields (language, processed-by, sdk), each a vector of (name, version)."""
    fields: dict[str, list[tuple[str, str]]] = {}
    count, pos = _uleb128(payload, 0)
    for _ in range(count):
        field, pos = _name(payload, pos, len(payload))
        n, pos = _uleb128(payload, pos)
        values: list[tuple[str, str]] = []
        for _ in range(n):
            name, pos = _name(payload, pos, len(payload))
            version, pos = _name(payload, pos, len(payload))
            values.append((name, version))
        fields[field] = values
    return fields


def read_producers(wasm: bytes) -> dict[str, list[tuple[str, str]]]:
    """What built the module, as the tools recorded it: `processed-by` holds rustc's and wasm-bindgen's versions."""
    out: dict[str, list[tuple[str, str]]] = {}
    for name, payload in custom_sections(wasm):
        if name == PRODUCERS:
            for field, values in parse_producers(payload).items():
                out.setdefault(field, []).extend(values)
    return out


def has_feature(features: list[str], name: str) -> bool:
    """True when `name` is listed as used or required ('+' or '='), not when it is disallowed ('-')."""
    return any(f[1:] == name and f[0] in "+=" for f in features)
