// One check for Node and browsers: return on success, throw on failure (git bisect's 0/1).
export default async function check(pkg, params) {
  const a = Number(params.a ?? "2");
  const b = Number(params.b ?? "3");
  const got = pkg.add(a, b);
  if (got !== a + b) throw new Error(`add(${a}, ${b}) returned ${got}, expected ${a + b}`);
  console.log(`OK: add(${a}, ${b}) = ${got}`);
}
