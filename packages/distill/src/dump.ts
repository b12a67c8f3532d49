// What a store holds, for people: one record per corpus position, in order, with the stored
// entries only (unused slots dropped) and their log-probs as stored (in "sample" mode, the
// log-weights log(count / k)). `gemma-ts distill dump` prints these as JSON lines (where a
// top-k entry's float16 log-prob underflowed to -Infinity, JSON.stringify writes null).
import { openTeacherStore } from "./teacher-store.js";

export interface DumpRecord {
  position: number;
  ids: number[];
  logprobs: number[];
}

export interface DumpTeacherStoreOptions {
  /** At most this many records (default: all). */
  limit?: number;
  /** Positions read per step (default 4096). */
  readPositions?: number;
}

export async function* dumpTeacherStore(dir: string, options: DumpTeacherStoreOptions = {}): AsyncGenerator<DumpRecord> {
  const store = await openTeacherStore(dir, { verify: "sizes" });
  try {
    const { k, positions, mode } = store.index;
    const end = Math.min(positions, options.limit ?? positions);
    const step = options.readPositions ?? 4096;
    for (let first = 0; first < end; first += step) {
      const count = Math.min(step, end - first);
      const range = await store.readRange(first, count);
      for (let i = 0; i < count; i++) {
        const ids: number[] = [];
        const logprobs: number[] = [];
        for (let j = i * k; j < (i + 1) * k; j++) {
          const logprob = range.logprobs[j]!;
          // Only "sample" mode has unused slots; a top-k entry is kept whatever its value.
          if (mode === "sample" && logprob === Number.NEGATIVE_INFINITY) continue;
          ids.push(range.ids[j]!);
          logprobs.push(logprob);
        }
        yield { position: first + i, ids, logprobs };
      }
    }
  } finally {
    await store.close();
  }
}
