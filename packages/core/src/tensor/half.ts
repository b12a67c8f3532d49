// float32 <-> bfloat16 / float16 conversion, element by element. bfloat16 is the top 16 bits of
// a float32, rounded to nearest even (as PyTorch rounds); float16 follows IEEE 754 binary16 with
// round-to-nearest-even, subnormals, infinities and NaN.

const scratch = new DataView(new ArrayBuffer(4));

export function float32ToBfloat16(value: number): number {
  scratch.setFloat32(0, value, true);
  const bits = scratch.getUint32(0, true);
  if ((bits & 0x7fffffff) > 0x7f800000) return (bits >>> 16) | 0x0040; // NaN stays NaN (quiet)
  const rounding = 0x7fff + ((bits >>> 16) & 1);
  return ((bits + rounding) >>> 16) & 0xffff;
}

export function bfloat16ToFloat32(word: number): number {
  scratch.setUint32(0, word << 16, true);
  return scratch.getFloat32(0, true);
}

export function float32ToFloat16(value: number): number {
  scratch.setFloat32(0, value, true);
  const bits = scratch.getUint32(0, true);
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  let mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0); // Inf or NaN
  const halfExponent = exponent - 127 + 15;
  if (halfExponent >= 0x1f) return sign | 0x7c00; // overflow to infinity
  if (halfExponent <= 0) {
    if (halfExponent < -10) return sign; // underflow to zero
    mantissa |= 0x800000; // make the implicit bit explicit, then shift into a subnormal
    const shift = 14 - halfExponent;
    const half = mantissa >>> shift;
    const remainder = mantissa & ((1 << shift) - 1);
    const midpoint = 1 << (shift - 1);
    const roundUp = remainder > midpoint || (remainder === midpoint && (half & 1) === 1);
    return sign | (half + (roundUp ? 1 : 0));
  }
  const half = (halfExponent << 10) | (mantissa >>> 13);
  const remainder = mantissa & 0x1fff;
  const roundUp = remainder > 0x1000 || (remainder === 0x1000 && (half & 1) === 1);
  return sign | (half + (roundUp ? 1 : 0)); // a carry into the exponent is the correct rounding
}

export function float16ToFloat32(word: number): number {
  const sign = word & 0x8000 ? -1 : 1;
  const exponent = (word >>> 10) & 0x1f;
  const mantissa = word & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}
