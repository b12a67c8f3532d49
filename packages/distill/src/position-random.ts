// The draws of "sample" mode: each corpus position has its own stream, the data package's
// SeededRandom seeded by (seed, position), so a position's draws are the same whoever scores it,
// in whatever batch, before or after a resume.
import { SeededRandom } from "@gemma-ts/data";

/** The random stream of one corpus position (positions past 2^32 split into two words). */
export function positionRandom(seed: number, position: number): SeededRandom {
  return new SeededRandom(seed, position % 0x100000000, Math.floor(position / 0x100000000));
}
