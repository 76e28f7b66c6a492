//! Reproducer of wasm-bindgen issue #4352 (exported structs passed as `Vec<T>`).
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
#[derive(Clone, Copy, Debug)]
pub struct PartialTestData {
    pub a: u32,
    pub b: f64,
    pub c: f64,
}

#[wasm_bindgen]
impl PartialTestData {
    #[wasm_bindgen(constructor)]
    pub fn new(a: u32, b: f64, c: f64) -> Self {
        Self { a, b, c }
    }
}

#[wasm_bindgen]
pub fn test_sum(param: Vec<PartialTestData>) -> u64 {
    let mut k = 0u64;
    for v in param {
        k += u64::from(v.a);
    }
    k
}
