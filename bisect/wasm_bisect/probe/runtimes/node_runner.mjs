// The check runner for Node. A check module exports `default async function check(pkg, params)`: it returns
// on success, throws on failure, and throws an error named "Skip" (or returns "skip") when it cannot test.
// The runner maps that to git bisect's exit codes: 0 good, 125 untestable, 1 bad. A plain script (the older
// form, which calls process.exit itself) has already run once imported: the runner then leaves it alone.
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

const UNTESTABLE = 125;

// The failure in one line, last (what the probe shows as the reason), after the stack frames. Firefox's
// `stack` holds only frames and V8's starts with the message: both end up the same shape. A plain Error
// thrown by a check carries its own words (`sum mismatch: ...`); a TypeError keeps its name.
function describe(err) {
  if (!(err instanceof Error)) return `FAIL: ${String(err)}`;
  const head = err.constructor === Error ? err.message : String(err);
  const frames = (err.stack || "").split("\n").filter((line) => line.trim() && !line.includes(err.message));
  return [...frames, `FAIL: ${head}`].join("\n");
}

function params() {
  const out = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith("WASM_BISECT_PARAM_")) out[key.slice("WASM_BISECT_PARAM_".length).toLowerCase()] = value;
  }
  return out;
}

const script = process.argv[2];
let mod;
try {
  mod = await import(pathToFileURL(script).href);
} catch (err) {
  console.error(describe(err));
  process.exit(1);
}
if (typeof mod.default === "function") {
  const pkg = createRequire(import.meta.url)(process.env.WASM_BISECT_PKG);
  let code = 0;
  try {
    const result = await mod.default(pkg, params());
    if (result === "skip") {
      console.error("untestable: the check returned \"skip\"");
      code = UNTESTABLE;
    }
  } catch (err) {
    if (err && err.name === "Skip") {
      console.error(`untestable: ${err.message}`);
      code = UNTESTABLE;
    } else {
      console.error(describe(err));
      code = 1;
    }
  }
  process.exit(code);
}
