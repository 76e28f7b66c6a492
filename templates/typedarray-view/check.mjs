// wasm-bindgen #4395 family. Exit codes follow git bisect's contract: 0 good, 125 untestable, 1..127 bad.
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const pkg = require(process.env.WASM_BISECT_PKG);
const count = Number(process.env.WASM_BISECT_PARAM_COUNT ?? "200000");
const len = Number(process.env.WASM_BISECT_PARAM_LEN ?? "64");
if (!Number.isSafeInteger(count) || !Number.isSafeInteger(len) || count < 1 || len < 1) {
  console.error("untestable: parameters count and len must be positive integers");
  process.exit(125);
}

let sums;
try {
  sums = pkg.make_views(count, len);
} catch (err) {
  console.error(`FAIL: make_views threw ${err && err.stack ? err.stack : err}`);
  process.exit(1);
}
let expected = 0;
for (let i = 0; i < len; i++) expected += i % 251;
if (sums.length !== count) {
  console.error(`FAIL: content mismatch: ${sums.length} views, expected ${count}`);
  process.exit(1);
}
for (let i = 0; i < count; i++) {
  if (sums[i] !== expected) {
    console.error(`FAIL: content mismatch: view ${i} sums to ${sums[i]}, expected ${expected}`);
    process.exit(1);
  }
}
console.log(`OK: ${count} views of ${len} bytes read back correctly`);
