// A real build of a trivial crate, with a verdict simulated from what was built (the WASM_BISECT_* variables the
// tool's Node runner sets): fails when rustc >= rustc_from and wasm-bindgen < fixed_in, so the bad region is
// {new rustc} x {old wasm-bindgen}, worse along rustc and better along wasm-bindgen (issue 23's shape).
function version(text, what) {
  const m = /(\d+)\.(\d+)\.(\d+)/.exec(text ?? "");
  if (!m) throw Object.assign(new Error(`no ${what} version in ${JSON.stringify(text)}`), { name: "Skip" });
  return m.slice(1).map(Number);
}

function older(a, b) {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] < b[i];
  return false;
}

export default async function check(pkg, params) {
  const got = pkg.add(2, 3);
  if (got !== 5) throw new Error(`add(2, 3) returned ${got}, expected 5`);  // not the simulated bug: skip
  const rustc = version(process.env.WASM_BISECT_RUSTC, "rustc");
  const bindgen = version(process.env.WASM_BISECT_BINDGEN, "wasm-bindgen");
  const from = version(params.rustc_from ?? "1.82.0", "rustc_from");
  const fixed = version(params.fixed_in ?? "0.2.96", "fixed_in");
  if (!older(rustc, from) && older(bindgen, fixed)) {
    throw new Error(`simulated bug: rustc ${rustc.join(".")} >= ${from.join(".")} with wasm-bindgen ` +
                    `${bindgen.join(".")} < ${fixed.join(".")}`);
  }
  console.log(`OK: add(2, 3) = ${got}`);
}
