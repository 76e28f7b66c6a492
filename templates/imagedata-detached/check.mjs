// wasm-bindgen #4815 (browsers only: Node has no ImageData or canvas). Return on success, throw on failure.
export default async function check(pkg, params) {
  const frames = Number(params.frames ?? "100000");
  const width = Number(params.width ?? "1");
  const height = Number(params.height ?? "1");
  if (![frames, width, height].every((v) => Number.isSafeInteger(v) && v > 0)) {
    console.error("untestable: frames, width and height must be positive integers");
    return "skip";
  }
  if (typeof OffscreenCanvas === "undefined") {
    console.error("untestable: this browser has no OffscreenCanvas");
    return "skip";
  }
  let painted;
  try {
    painted = pkg.paint_frames(frames, width, height);
  } catch (err) {
    throw new Error(`paint_frames threw ${err}`);
  }
  if (painted !== frames) throw new Error(`frame count mismatch: painted ${painted} of ${frames}`);
  console.log(`OK: ${frames} ImageData frames of ${width}x${height} painted`);
}
