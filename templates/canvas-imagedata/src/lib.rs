//! wasm-bindgen #4815, drawn for a person to look at: a picture is painted into a visible canvas one pixel at a
//! time, each pixel an `ImageData` built from a `Clamped(&[u8])` view over wasm memory and kept alive. With the
//! externref transform, every ImageData handed back to Rust takes a slot in the externref table, whose free list
//! lives on the Rust heap: once many objects are alive, a reallocation of that list grows memory, which
//! detaches the view of the ImageData in hand before `putImageData` reads it. The page then shows the error
//! instead of the picture.
use wasm_bindgen::prelude::*;
use wasm_bindgen::Clamped;
use web_sys::{CanvasRenderingContext2d, ImageData};

/// The picture's colour at (x, y) of a `size` x `size` canvas: red across, green down, a blue checkerboard.
/// Deterministic, so a screenshot of a good build compares with a reference.
#[wasm_bindgen]
pub fn pixel(x: u32, y: u32, size: u32) -> Vec<u8> {
    let top = size.max(2) - 1;
    let blue = if (x / 32 + y / 32) % 2 == 0 { 200 } else { 60 };
    vec![(x * 255 / top) as u8, (y * 255 / top) as u8, blue, 255]
}

/// Paint the picture pixel by pixel into `ctx`, keeping every ImageData alive; the number of pixels painted.
#[wasm_bindgen]
pub fn draw(ctx: &CanvasRenderingContext2d, size: u32) -> Result<u32, JsValue> {
    let mut kept: Vec<ImageData> = Vec::new();
    let mut buffers: Vec<Vec<u8>> = Vec::new();
    for y in 0..size {
        for x in 0..size {
            let rgba = pixel(x, y, size);
            let image = ImageData::new_with_u8_clamped_array(Clamped(&rgba), 1)?;
            // Throws "The source data has been detached" when the externref slot allocation grew memory.
            ctx.put_image_data(&image, x as f64, y as f64)?;
            kept.push(image);
            buffers.push(rgba);
        }
    }
    Ok(kept.len() as u32)
}
