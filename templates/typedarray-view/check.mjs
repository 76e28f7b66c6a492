// wasm-bindgen #4395 family. One check for Node and browsers: return on success, throw on failure, return
// "skip" when the cell cannot be tested (git bisect's 0/1/125).
export default async function check(pkg, params) {
  const count = Number(params.count ?? "200000");
  const len = Number(params.len ?? "64");
  if (!Number.isSafeInteger(count) || !Number.isSafeInteger(len) || count < 1 || len < 1) {
    console.error("untestable: parameters count and len must be positive integers");
    return "skip";
  }

  let sums;
  try {
    sums = pkg.make_views(count, len);
  } catch (err) {
    throw new Error(`make_views threw ${err}`);
  }
  let expected = 0;
  for (let i = 0; i < len; i++) expected += i % 251;
  if (sums.length !== count) throw new Error(`content mismatch: ${sums.length} views, expected ${count}`);
  for (let i = 0; i < count; i++) {
    if (sums[i] !== expected) throw new Error(`content mismatch: view ${i} sums to ${sums[i]}, expected ${expected}`);
  }
  console.log(`OK: ${count} views of ${len} bytes read back correctly`);
}
