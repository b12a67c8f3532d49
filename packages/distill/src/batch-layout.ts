// Where a BatchSource batch's tokens come from: for each row, the runs of consecutive positions
// of one document it holds. @gemma-ts/data does not expose this, so the packing of BatchSource is
// repeated here: training batches lay the source's documents end to end in an order shuffled per
// epoch (xoshiro128** seeded by (0x5f1e, seed, epoch), Fisher-Yates); the ordered pass lays them
// in order and pads the tail. The batch helper checks every position's token against the store's
// record of it, so should the data order ever change, batches fail loudly rather than misalign.
import type { Batch, BatchSource } from "@gemma-ts/data";

export interface Segment {
  row: number;
  /** First input column of the row this run fills. */
  column: number;
  document: number;
  /** Position within the document of the run's first token. */
  from: number;
  count: number;
}

export type BatchKind = "training" | "ordered";

const SHUFFLE_STREAM = 0x5f1e;

/** The runs of each row's T input positions; columns not covered are padding (ordered pass only). */
export function batchSegments(source: BatchSource, batch: Batch, kind: BatchKind): Segment[] {
  const { batchSize: B, sequenceLength: T, step } = batch;
  const lengths = (document: number) => source.shards.documentLengthOf(document);
  const inOrder = layout(source.documents, lengths);
  const epochs = new Map<number, Layout>();
  const epochLayout = (epoch: number) => {
    let found = epochs.get(epoch);
    if (found === undefined) {
      const order = permutation(source.documents.length, new SeededRandom(SHUFFLE_STREAM, source.seed, epoch));
      found = layout(order.map((i) => source.documents[i]!), lengths);
      epochs.set(epoch, found);
    }
    return found;
  };
  const total = inOrder.ends[inOrder.ends.length - 1]!;
  const segments: Segment[] = [];
  for (let row = 0; row < B; row++) {
    const start = (step * B + row) * T;
    for (let column = 0; column < T; ) {
      const position = start + column;
      let at: Layout;
      let offset: number;
      if (kind === "ordered") {
        if (position >= total) break;
        at = inOrder;
        offset = position;
      } else {
        const epoch = Math.floor(position / total);
        at = epochLayout(epoch);
        offset = position - epoch * total;
      }
      const j = firstEndAbove(at.ends, offset);
      const document = at.order[j]!;
      const from = offset - (j === 0 ? 0 : at.ends[j - 1]!);
      const count = Math.min(lengths(document) - from, T - column);
      segments.push({ row, column, document, from, count });
      column += count;
    }
  }
  return segments;
}

interface Layout {
  order: Uint32Array;
  ends: Float64Array;
}

function layout(order: Uint32Array, lengths: (document: number) => number): Layout {
  const ends = new Float64Array(order.length);
  let end = 0;
  for (let j = 0; j < order.length; j++) {
    end += lengths(order[j]!);
    ends[j] = end;
  }
  return { order, ends };
}

function firstEndAbove(ends: Float64Array, offset: number): number {
  let low = 0;
  let high = ends.length - 1;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (ends[middle]! > offset) high = middle;
    else low = middle + 1;
  }
  return low;
}

class SeededRandom {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(...words: number[]) {
    let h = 0x9e3779b9;
    for (const word of words) h = mix32((h ^ word) >>> 0);
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

  below(n: number): number {
    const high = this.nextUint32() >>> 5;
    const low = this.nextUint32() >>> 6;
    return Math.floor(((high * 67108864 + low) / 9007199254740992) * n);
  }
}

function permutation(n: number, random: SeededRandom): Uint32Array {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = random.below(i + 1);
    const swap = order[i]!;
    order[i] = order[j]!;
    order[j] = swap;
  }
  return order;
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
