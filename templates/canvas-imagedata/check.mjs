// wasm-bindgen #4815 in a visible-canvas shape (browsers only: Node has no canvas). The same draw() as the page
// (index.html), into a canvas of the check's own; then a few pixels are read back. Return on success, throw on
// failure.
export default async function check(pkg, params) {
  const size = Number(params.size ?? "320");
  if (!Number.isSafeInteger(size) || size < 2 || size > 2048) {
    console.error("untestable: size must be an integer from 2 to 2048");
    return "skip";
  }
  if (typeof document === "undefined") {
    console.error("untestable: no document (this check runs in a browser page)");
    return "skip";
  }
  const canvas = document.createElement("canvas");
  canvas.width = size;
  canvas.height = size;
  const ctx = canvas.getContext("2d");
  let painted;
  try {
    painted = pkg.draw(ctx, size);
  } catch (err) {
    throw new Error(`draw threw ${err}`);
  }
  if (painted !== size * size) throw new Error(`pixel count mismatch: painted ${painted} of ${size * size}`);
  for (const [x, y] of [[0, 0], [size - 1, 0], [0, size - 1], [size - 1, size - 1], [size >> 1, size >> 2]]) {
    const got = Array.from(ctx.getImageData(x, y, 1, 1).data);
    const want = Array.from(pkg.pixel(x, y, size));
    if (got.join() !== want.join()) throw new Error(`pixel (${x}, ${y}) is ${got}, not ${want}`);
  }
  console.log(`OK: ${painted} ImageData pixels of a ${size}x${size} picture painted`);
}
