// binary16 bits of a finite float32, written apart from src/tensor/half.ts so tests of the GGUF
// quantizers check it against an independent reference: round half to even, subnormals in units
// of 2^-24, the sign of -0 kept.
export function referenceFp16Bits(value: number): number {
  const sign = value < 0 || Object.is(value, -0) ? 0x8000 : 0;
  const magnitude = Math.abs(value);
  const roundHalfEven = (x: number): number => {
    const floor = Math.floor(x);
    const fraction = x - floor;
    return fraction > 0.5 || (fraction === 0.5 && floor % 2 === 1) ? floor + 1 : floor;
  };
  if (magnitude < 2 ** -14) return sign | roundHalfEven(magnitude / 2 ** -24); // subnormal, in units of 2^-24
  let exponent = Math.floor(Math.log2(magnitude));
  if (2 ** exponent > magnitude) exponent--;
  if (2 ** (exponent + 1) <= magnitude) exponent++;
  const mantissa = roundHalfEven(magnitude / 2 ** (exponent - 10)); // 1024..2048; 2048 carries into the exponent
  return sign | (((exponent + 15) << 10) + mantissa - 1024);
}
