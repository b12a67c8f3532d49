// Comparing the float outputs of two computations in tests.

/** max |a[i] - b[i]|. Arrays of different lengths throw; a NaN anywhere makes it NaN, which fails every bound. */
export function maxDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`comparing ${a.length} values with ${b.length}`);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}
