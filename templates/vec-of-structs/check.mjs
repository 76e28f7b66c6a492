// wasm-bindgen #4352. Exit codes follow git bisect's contract: 0 good, 125 untestable, 1..127 bad.
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const pkg = require(process.env.WASM_BISECT_PKG);
const n = Number(process.env.WASM_BISECT_PARAM_N ?? "1000000");
if (!Number.isSafeInteger(n) || n < 1) {
  console.error(`untestable: parameter n=${process.env.WASM_BISECT_PARAM_N} is not a positive integer`);
  process.exit(125);
}

const values = new Array(n);
for (let i = 0; i < n; i++) values[i] = new pkg.PartialTestData(i, 0, 0);

let got;
try {
  got = pkg.test_sum(values);
} catch (err) {
  console.error(`FAIL: test_sum threw ${err && err.stack ? err.stack : err}`);
  process.exit(1);
}
const expected = (BigInt(n) * BigInt(n - 1)) / 2n;
if (BigInt(got) !== expected) {
  console.error(`FAIL: sum mismatch: got ${got}, expected ${expected}`);
  process.exit(1);
}
console.log(`OK: sum over ${n} structs = ${got}`);
