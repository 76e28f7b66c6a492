//! wasm-bindgen #4815: an `ImageData` built from a `Clamped(&[u8])` is a view over wasm memory, and handing it
//! back to Rust stores it in the externref table. That table's free list lives on the Rust heap: when it must
//! grow while the heap is full, `memory.grow` detaches every view, this ImageData's included, before Rust can
//! use it. Many live JS objects (the ImageDatas kept below) make that free list large, so each of its
//! reallocations (every 128 slots) needs fresh memory at the top of the heap: `memory.grow`. DOM and canvas
//! types exist only in browsers: this bug cannot be seen in Node.
use wasm_bindgen::prelude::*;
use wasm_bindgen::{Clamped, JsCast};
use web_sys::{ImageData, OffscreenCanvas, OffscreenCanvasRenderingContext2d};

#[wasm_bindgen]
pub fn paint_frames(frames: u32, width: u32, height: u32) -> Result<u32, JsValue> {
    let canvas = OffscreenCanvas::new(width, height)?;
    let ctx: OffscreenCanvasRenderingContext2d = canvas
        .get_context("2d")?
        .ok_or_else(|| JsValue::from_str("untestable: no 2d context"))?
        .unchecked_into();
    let mut kept: Vec<ImageData> = Vec::new();
    let mut buffers: Vec<Vec<u8>> = Vec::new();
    for frame in 0..frames {
        let pixels = vec![(frame % 251) as u8; (width * height * 4) as usize];
        let image = ImageData::new_with_u8_clamped_array(Clamped(&pixels), width)?;
        // Throws "The source data has been detached" when the externref slot allocation grew memory.
        ctx.put_image_data(&image, 0.0, 0.0)?;
        kept.push(image);
        buffers.push(pixels);
    }
    Ok(kept.len() as u32)
}
