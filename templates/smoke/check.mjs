// Exit codes follow git bisect's contract: 0 good, 125 untestable, 1..127 bad.
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const pkg = require(process.env.WASM_BISECT_PKG);
const a = Number(process.env.WASM_BISECT_PARAM_A ?? "2");
const b = Number(process.env.WASM_BISECT_PARAM_B ?? "3");
const got = pkg.add(a, b);
if (got !== a + b) {
  console.error(`FAIL: add(${a}, ${b}) returned ${got}, expected ${a + b}`);
  process.exit(1);
}
console.log(`OK: add(${a}, ${b}) = ${got}`);
