// wasm-bisect's in-page runner: the same check contract as the Node runner, in a real browser. Console output
// and uncaught errors are sent to the tool's server line by line (synchronously, so a page that hangs right
// after still has its output in the probe's log); the exit code goes to /__wasm_bisect/done.
const UNTESTABLE = 125;
const ABORT = 128; // the check could not be run at all (e.g. the module has no check function)
const MAX_LINES = 5000;
const config = JSON.parse(document.getElementById("wasm-bisect-config").textContent);
let lines = 0;
let finished = false;

function post(path, body) {
  try {
    const request = new XMLHttpRequest();
    request.open("POST", path, false);
    request.setRequestHeader("Content-Type", "text/plain;charset=utf-8");
    request.send(body);
  } catch (_) {
    // The tool stopped listening (timeout, shutdown): nothing more to report.
  }
}

// The failure in one line, last (what the probe shows as the reason), after the stack frames. Firefox's
// `stack` holds only frames and V8's starts with the message: both end up the same shape. A plain Error
// thrown by a check carries its own words (`sum mismatch: ...`); a TypeError keeps its name.
function describe(err) {
  if (!(err instanceof Error)) return `FAIL: ${String(err)}`;
  const head = err.constructor === Error ? err.message : String(err);
  const frames = (err.stack || "").split("\n").filter((line) => line.trim() && !line.includes(err.message));
  return [...frames, `FAIL: ${head}`].join("\n");
}

function format(args) {
  return args.map((a) => (typeof a === "string" ? a : a instanceof Error ? String(a) : safeJson(a))).join(" ");
}

function safeJson(value) {
  try {
    const text = JSON.stringify(value);
    return text === undefined ? String(value) : text;
  } catch (_) {
    return String(value);
  }
}

function emit(text) {
  if (finished) return;
  lines += 1;
  if (lines <= MAX_LINES) post("/__wasm_bisect/log", text);
  else if (lines === MAX_LINES + 1) post("/__wasm_bisect/log", `(more than ${MAX_LINES} lines: the rest is dropped)`);
}

for (const level of ["log", "info", "warn", "error", "debug", "trace"]) {
  const original = console[level].bind(console);
  console[level] = (...args) => {
    emit(format(args));
    original(...args);
  };
}
addEventListener("error", (event) => emit(`uncaught ${event.error ? String(event.error) : event.message}`));
addEventListener("unhandledrejection", (event) => emit(`unhandled rejection: ${String(event.reason)}`));

function done(code) {
  if (finished) return;
  finished = true;
  post("/__wasm_bisect/done", String(code));
}

async function main() {
  let pkg;
  let mod;
  try {
    pkg = await import(config.pkg);
    await pkg.default(); // every wasm-bindgen release fetches `<name>_bg.wasm` next to the glue by default
    mod = await import(config.check);
  } catch (err) {
    emit(describe(err));
    return done(1);
  }
  if (typeof mod.default !== "function") {
    emit(`the check module ${config.check} has no default export "check(pkg, params)": it cannot run in a browser`);
    return done(ABORT);
  }
  try {
    const result = await mod.default(pkg, config.params);
    if (result === "skip") {
      emit('untestable: the check returned "skip"');
      return done(UNTESTABLE);
    }
    return done(0);
  } catch (err) {
    if (err && err.name === "Skip") {
      emit(`untestable: ${err.message}`);
      return done(UNTESTABLE);
    }
    emit(describe(err));
    return done(1);
  }
}

main();
