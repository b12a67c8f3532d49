// The draws of "sample" mode: each corpus position has its own xoshiro128** stream seeded from
// (seed, position) through a murmur3-style mix, so a position's draws are the same whoever scores
// it, in whatever batch, before or after a resume.

export class PositionRandom {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number, position: number) {
    let h = mix32((0x9e3779b9 ^ seed) >>> 0);
    h = mix32((h ^ (position % 0x100000000)) >>> 0);
    h = mix32((h ^ Math.floor(position / 0x100000000)) >>> 0);
    const next = () => {
      h = (h + 0x9e3779b9) >>> 0;
      return mix32(h);
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next() || 1;
  }

  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  uniform(): number {
    const high = this.nextUint32() >>> 5;
    const low = this.nextUint32() >>> 6;
    return (high * 67108864 + low) / 9007199254740992;
  }
}

function mix32(x: number): number {
  let z = x >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
