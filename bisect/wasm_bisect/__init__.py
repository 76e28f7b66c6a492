"""wasm-bisect: find the first failing (rustc, wasm-bindgen, reference-types) combination with real builds."""

__version__ = "0.1.0"
