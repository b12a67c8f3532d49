// WGSL functions whose built-in forms WGSL leaves too loose for a 1e-5 match with the float64
// oracle: the spec allows sin and cos an absolute error of 2^-11 (RoPE takes them of angles in
// the thousands), exp 3 + 2|x| ulp (a softmax of soft-capped scores reaches |x| ~ 100), tanh and
// pow inherit the error of their exp/log forms, and erf does not exist.
// Each is included in a kernel only when its expression calls it.

/** sin and cos together: reduction by pi/2 in three parts (Cody and Waite), then Cephes' minimax polynomials on [-pi/4, pi/4]. */
const SIN_COS = `
fn sin_cos_(x: f32) -> vec2f {
  let j = round(x * 0.636619772367581);
  // pi/2 = 1.5703125 + 4.837512969970703e-4 + 7.549790126404332e-8 (to 2e-15): the first two parts
  // have 8 and 11 significant bits, so their products with j are exact for |j| < 2^13 (|x| < 12868).
  let r = ((x - j * 1.5703125) - j * 4.837512969970703e-4) - j * 7.549790126404332e-8;
  let r2 = r * r;
  let s = r + r * r2 * (-1.6666654611e-1 + r2 * (8.3321608736e-3 + r2 * -1.9515295891e-4));
  let c = 1.0 - 0.5 * r2 + r2 * r2 * (4.166664568298827e-2 + r2 * (-1.388731625493765e-3 + r2 * 2.443315711809948e-5));
  switch (i32(j) & 3) {
    case 0: { return vec2f(s, c); }
    case 1: { return vec2f(c, -s); }
    case 2: { return vec2f(-s, -c); }
    default: { return vec2f(-c, s); }
  }
}
fn sin_(x: f32) -> f32 { return sin_cos_(x).x; }
fn cos_(x: f32) -> f32 { return sin_cos_(x).y; }
`;

/**
 * exp with an error of about 1 ulp over the whole range (WGSL allows 3 + 2|x| ulp, which a
 * softmax over soft-capped attention scores of +-50 turns into 1e-5): x = k ln2 + r with ln2 in
 * two parts (Cephes' expf), the Taylor polynomial of e^r to degree 7 for |r| <= ln2 / 2, times 2^k.
 */
const EXP = `
fn exp_(x: f32) -> f32 {
  if (x > 88.72283) { return from_bits_(0x7f800000u); }
  if (x < -87.33654) { return 0.0; }
  let k = round(x * 1.4426950408889634);
  let r = (x - k * 0.693359375) + k * 2.12194440e-4;
  let p = 1.0 + r * (1.0 + r * (0.5 + r * (0.16666666666666666 + r * (0.041666666666666664 + r * (0.008333333333333333 + r * (0.001388888888888889 + r * 0.0001984126984126984))))));
  return ldexp(p, i32(k));
}
`;

/** tanh: its odd Taylor series below 0.5 (no cancellation), (1 - e^-2a) / (1 + e^-2a) above. */
const TANH = `
fn tanh_(x: f32) -> f32 {
  let a = abs(x);
  if (a < 0.5) {
    let x2 = x * x;
    return x * (1.0 + x2 * (-0.3333333333333333 + x2 * (0.13333333333333333 + x2 * (-0.05396825396825397 + x2 * (0.021869488536155203 + x2 * (-0.008863235529902197 + x2 * 0.003592128036572481))))));
  }
  let t = exp_(-2.0 * min(a, 20.0));
  let value = (1.0 - t) / (1.0 + t);
  return select(value, -value, x < 0.0);
}
`;

/** erf as the oracle computes it: the positive series (A&S 7.1.6) below 1, the continued fraction of erfc (A&S 7.1.14, Lentz) above. */
const ERF = `
fn erf_(x: f32) -> f32 {
  let a = abs(x);
  if (a >= 4.0) { return sign(x); }
  var value: f32;
  if (a < 1.0) {
    let a2 = a * a;
    var term = a;
    var sum = a;
    for (var n = 0; n < 40; n++) {
      term *= 2.0 * a2 / f32(2 * n + 3);
      sum += term;
      if (term < sum * 1e-8) { break; }
    }
    value = 1.1283791670955126 * exp_(-a2) * sum;
  } else {
    var f = a;
    var c = a;
    var d = 0.0;
    for (var j = 1; j < 300; j++) {
      let aj = f32(j) * 0.5;
      d = 1.0 / (a + aj * d);
      c = a + aj / c;
      let delta = c * d;
      f *= delta;
      if (abs(delta - 1.0) < 1e-8) { break; }
    }
    value = 1.0 - 0.5641895835477563 * exp_(-a * a) / f;
  }
  return select(value, -value, x < 0.0);
}
`;

/** C's pow, as ONNX Pow: 1 for a base of 1 or an exponent of 0, signed results for negative bases with integer exponents. */
const POW = `
fn pow_(a: f32, b: f32) -> f32 {
  if (a == 1.0 || b == 0.0) { return 1.0; }
  if (b == 1.0) { return a; }
  if (b == 2.0) { return a * a; }
  if (a == 0.0) { return select(from_bits_(0x7f800000u), 0.0, b > 0.0); }
  if (a < 0.0) {
    if (b != floor(b)) { return from_bits_(0x7fc00000u); }
    let magnitude = pow(-a, b);
    return select(magnitude, -magnitude, abs(b % 2.0) == 1.0);
  }
  return pow(a, b);
}
`;

/**
 * float32 rounded to bfloat16 and to float16 (nearest, ties to even; float16 overflows to
 * infinity from 65520 and keeps 2^-24 steps below its normal range), kept as float32.
 */
const NARROW = `
fn to_bf16_(x: f32) -> f32 {
  let bits = bitcast<u32>(x);
  if ((bits & 0x7f800000u) == 0x7f800000u) { return x; }
  return bitcast<f32>((bits + 0x7fffu + ((bits >> 16u) & 1u)) & 0xffff0000u);
}
fn to_f16_(x: f32) -> f32 {
  // WGSL leaves pack2x16float's rounding, and its result out of range, to the implementation.
  let a = abs(x);
  if ((bitcast<u32>(x) & 0x7f800000u) == 0x7f800000u) { return x; }
  if (a >= 65520.0) { return select(from_bits_(0x7f800000u), from_bits_(0xff800000u), x < 0.0); }
  if (a < 6.103515625e-05) { return round(x * 16777216.0) / 16777216.0; }
  let bits = bitcast<u32>(x);
  return bitcast<f32>((bits + 0xfffu + ((bits >> 13u) & 1u)) & 0xffffe000u);
}
`;

/** A float from its bits at run time: WGSL refuses infinities and NaN as constant expressions. */
const FROM_BITS = `
fn from_bits_(bits: u32) -> f32 { return bitcast<f32>(bits); }
`;

/** NaN by its bits: compilers may fold x != x to false. */
const IS_NAN = `
fn is_nan_(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
`;

const LIBRARY: readonly [call: string, source: string][] = [
  ["exp_(", EXP],
  ["sin_cos_(", SIN_COS],
  ["sin_(", SIN_COS],
  ["cos_(", SIN_COS],
  ["tanh_(", TANH],
  ["erf_(", ERF],
  ["pow_(", POW],
  ["to_bf16_(", NARROW],
  ["to_f16_(", NARROW],
  ["from_bits_(", FROM_BITS],
  ["is_nan_(", IS_NAN],
];

/** The library functions `code` calls, each once. */
export function mathFor(code: string): string {
  const sources = new Set<string>();
  for (const [call, source] of LIBRARY) if (code.includes(call)) sources.add(source);
  // The library's own functions call exp_ and from_bits_.
  if ([...sources].some((source) => source.includes("exp_("))) sources.add(EXP);
  if ([...sources].some((source) => source.includes("from_bits_("))) sources.add(FROM_BITS);
  return [...sources].join("");
}
