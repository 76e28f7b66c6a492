//! wasm-bindgen #4395 family: views over wasm memory created while JS values pile up.
//!
//! All Rust allocations happen before the buffer is taken, so without the externref transform nothing can
//! grow memory inside the loop. With it, every returned view is stored in the externref table, whose
//! bookkeeping lives in Rust memory and can `memory.grow`, detaching `buffer` under the glue's feet.
use js_sys::{Uint8Array, WebAssembly};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

#[wasm_bindgen]
pub fn make_views(count: u32, len: u32) -> Result<Vec<u32>, JsValue> {
    let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
    let mut views: Vec<Uint8Array> = Vec::with_capacity(count as usize);
    let mut sums: Vec<u32> = Vec::with_capacity(count as usize);
    let buffer = wasm_bindgen::memory()
        .unchecked_into::<WebAssembly::Memory>()
        .buffer();
    for _ in 0..count {
        views.push(Uint8Array::new_with_byte_offset_and_length(
            &buffer,
            data.as_ptr() as u32,
            len,
        ));
    }
    for view in &views {
        let mut sum = 0u32;
        for i in 0..view.length() {
            sum += u32::from(view.get_index(i));
        }
        sums.push(sum);
    }
    Ok(sums)
}
