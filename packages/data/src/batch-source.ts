// Batches for training and evaluation, packed from whole documents (each <bos> ... <eos>) laid end
// to end with no padding, as GPT-style pre-training does.
//
// Training (batchAt): the split's documents form one endless stream, epoch after epoch; each epoch
// is the documents in an order shuffled by (seed, epoch). Row k of the stream covers positions
// [kT, kT + T + 1): its inputs are the first T ids, its targets the last T, so consecutive rows
// share one token and every token is a target exactly once per epoch. Step s takes rows sB ..
// sB + B - 1. Nothing is carried between calls: batch s is a pure function of (shards, documents,
// seed, B, T, s), so a resumed run reads exactly the batches it would have read.
//
// Evaluation (orderedBatchAt): one pass over the documents in their order, the last row padded
// (pad id, loss mask 0) and, in the last batch, whole padding rows so every batch keeps its shape.
//
// Without packing (packing "none", TRL's packing=False, for chat SFT): each row holds one document
// from its start, cut at T + 1 ids and padded (pad id, loss mask 0), so every reply is read with its
// whole prompt and nothing else. An epoch is then one row per document, in the same shuffled order.
//
// The loss mask of target t is the stored mask of that token (encode-document.ts): 0 on a
// document's <bos> (it cannot be predicted from the document before), on the non-assistant tokens
// of a chat, and on padding.
import { InvalidArgumentError } from "./errors.js";
import { permutation, SeededRandom } from "./random.js";
import { splitDocuments, type HeldOutSplit } from "./split.js";
import type { TokenShards } from "./token-shards.js";

export interface BatchShape {
  batchSize: number;
  /** T: tokens the model reads per row; rows hold T + 1 ids. */
  sequenceLength: number;
}

/** "stream": documents end to end, rows cut anywhere; "none": one document a row, padded. */
export type Packing = "stream" | "none";

export interface BatchSourceOptions extends BatchShape {
  /** Decides the document order of each epoch; a uint32. */
  seed: number;
  /** Default "stream". */
  packing?: Packing;
  /** The documents to draw from (document numbers); default all of them. */
  documents?: ArrayLike<number>;
}

export interface Batch {
  /** The training step, or the batch's number in the ordered pass. */
  step: number;
  batchSize: number;
  sequenceLength: number;
  /** B rows of T + 1 ids, row-major: inputs are a row's first T ids, targets its last T. */
  ids: Int32Array;
  /** B rows of T: 1 where the target counts in the loss. */
  lossMask: Uint8Array;
  /** Epochs of this source consumed before the batch's first token (fractional). */
  epoch: number;
  /**
   * Where the ids come from: per row, runs of consecutive tokens of one document, in column order
   * (columns of the T + 1 ids; columns no run covers are padding). What a per-token side input (a
   * teacher store) needs to line up with the batch.
   */
  segments: BatchSegment[];
}

export interface BatchSegment {
  row: number;
  /** The row's column (of its T + 1 ids) of the run's first token. */
  column: number;
  document: number;
  /** Position within the document of the run's first token. */
  from: number;
  count: number;
}

interface EpochLayout {
  order: Uint32Array;
  /** ends[j]: the stream offset just past the j-th document of `order`. */
  ends: Float64Array;
}

const SHUFFLE_STREAM = 0x5f1e;

export class BatchSource {
  readonly batchSize: number;
  readonly sequenceLength: number;
  readonly seed: number;
  readonly packing: Packing;
  /** The document numbers this source draws from, ascending as given. */
  readonly documents: Uint32Array;
  readonly tokensPerEpoch: number;
  private readonly inOrder: EpochLayout;
  private readonly epochs = new Map<number, EpochLayout>();

  constructor(
    readonly shards: TokenShards,
    options: BatchSourceOptions,
  ) {
    for (const field of ["batchSize", "sequenceLength"] as const) {
      const value = options[field];
      if (!Number.isSafeInteger(value) || value < 1) throw new InvalidArgumentError(field, `expected a positive integer, got ${value}`);
    }
    if (!Number.isInteger(options.seed) || options.seed < 0 || options.seed > 0xffffffff) {
      throw new InvalidArgumentError("seed", `expected an integer in [0, 2^32), got ${options.seed}`);
    }
    this.batchSize = options.batchSize;
    this.sequenceLength = options.sequenceLength;
    this.seed = options.seed;
    this.packing = options.packing ?? "stream";
    if (this.packing !== "stream" && this.packing !== "none") throw new InvalidArgumentError("packing", `expected "stream" or "none", got ${JSON.stringify(this.packing)}`);
    this.documents = options.documents === undefined ? Uint32Array.from({ length: shards.documentCount }, (_, i) => i) : Uint32Array.from(options.documents);
    if (this.documents.length === 0) throw new InvalidArgumentError("documents", "no documents to draw batches from");
    for (const document of this.documents) {
      if (document >= shards.documentCount) throw new InvalidArgumentError("documents", `document ${document} is beyond the ${shards.documentCount} in ${shards.dir}`);
    }
    this.inOrder = this.layout(this.documents);
    this.tokensPerEpoch = this.inOrder.ends[this.inOrder.ends.length - 1]!;
  }

  /** Targets per step: B x T. */
  get tokensPerStep(): number {
    return this.batchSize * this.sequenceLength;
  }

  /** Steps to see every token (every document, unpacked) of the split once as a target (fractional). */
  get stepsPerEpoch(): number {
    return this.packing === "none" ? this.documents.length / this.batchSize : this.tokensPerEpoch / this.tokensPerStep;
  }

  /** Epochs consumed before `step` (fractional). */
  epochAt(step: number): number {
    return step / this.stepsPerEpoch;
  }

  /** The training batch of `step` (0-based): shuffled per epoch by the seed, packed (never padded) or a document a row. */
  async batchAt(step: number): Promise<Batch> {
    checkStep("step", step);
    if (this.packing === "none") {
      const documents = this.documents.length;
      return this.buildUnpacked(step, this.epochAt(step), (row) => this.epochLayout(Math.floor(row / documents)).order[row % documents]!);
    }
    return this.build(step, this.epochAt(step), (position) => {
      const epoch = Math.floor(position / this.tokensPerEpoch);
      return { layout: this.epochLayout(epoch), offset: position - epoch * this.tokensPerEpoch };
    });
  }

  /** Batches in one ordered pass over the documents (for evaluation). */
  get orderedBatchCount(): number {
    return Math.ceil((this.packing === "none" ? this.documents.length : this.orderedRowCount) / this.batchSize);
  }

  /** Batch `index` of the ordered pass: documents in order, each target once, the tail padded. */
  async orderedBatchAt(index: number): Promise<Batch> {
    checkStep("index", index);
    if (index >= this.orderedBatchCount) throw new InvalidArgumentError("index", `the ordered pass has ${this.orderedBatchCount} batches, asked for ${index}`);
    if (this.packing === "none") return this.buildUnpacked(index, this.epochAt(index), (row) => (row < this.documents.length ? this.documents[row]! : undefined));
    return this.build(index, this.epochAt(index), (position) =>
      position < this.tokensPerEpoch ? { layout: this.inOrder, offset: position } : undefined,
    );
  }

  async *orderedBatches(): AsyncGenerator<Batch> {
    for (let i = 0; i < this.orderedBatchCount; i++) yield await this.orderedBatchAt(i);
  }

  /** Rows that hold at least one target of the ordered pass. */
  private get orderedRowCount(): number {
    return Math.max(1, Math.ceil((this.tokensPerEpoch - 1) / this.sequenceLength));
  }

  private async build(
    step: number,
    epoch: number,
    locate: (position: number) => { layout: EpochLayout; offset: number } | undefined,
  ): Promise<Batch> {
    const { batchSize: rows, sequenceLength: T } = this;
    const ids = new Int32Array(rows * (T + 1));
    const lossMask = new Uint8Array(rows * T);
    const rowSegments = await Promise.all(
      Array.from({ length: rows }, async (_, r) => {
        const tokenMask = new Uint8Array(T + 1);
        const segments = await this.fillRow(r, (step * rows + r) * T, ids.subarray(r * (T + 1), (r + 1) * (T + 1)), tokenMask, locate);
        lossMask.set(tokenMask.subarray(1), r * T);
        return segments;
      }),
    );
    return { step, batchSize: rows, sequenceLength: T, ids, lossMask, epoch, segments: rowSegments.flat() };
  }

  /** Rows of one document each, from its start; `documentOf` maps a row of the stream to its document (none: a padding row). */
  private async buildUnpacked(step: number, epoch: number, documentOf: (row: number) => number | undefined): Promise<Batch> {
    const { batchSize: rows, sequenceLength: T } = this;
    const ids = new Int32Array(rows * (T + 1)).fill(this.shards.pad);
    const lossMask = new Uint8Array(rows * T);
    const segments: BatchSegment[] = [];
    for (let r = 0; r < rows; r++) {
      const document = documentOf(step * rows + r);
      if (document === undefined) continue;
      const tokenMask = new Uint8Array(T + 1);
      const count = Math.min(this.shards.documentLengthOf(document), T + 1);
      await this.shards.readInto(document, 0, count, ids.subarray(r * (T + 1), (r + 1) * (T + 1)), tokenMask, 0);
      lossMask.set(tokenMask.subarray(1), r * T);
      segments.push({ row: r, column: 0, document, from: 0, count });
    }
    return { step, batchSize: rows, sequenceLength: T, ids, lossMask, epoch, segments };
  }

  private async fillRow(
    row: number,
    start: number,
    ids: Int32Array,
    mask: Uint8Array,
    locate: (position: number) => { layout: EpochLayout; offset: number } | undefined,
  ): Promise<BatchSegment[]> {
    const segments: BatchSegment[] = [];
    let filled = 0;
    while (filled < ids.length) {
      const at = locate(start + filled);
      if (at === undefined) {
        ids.fill(this.shards.pad, filled);
        mask.fill(0, filled);
        return segments;
      }
      const j = firstEndAbove(at.layout.ends, at.offset);
      const document = at.layout.order[j]!;
      const within = at.offset - (j === 0 ? 0 : at.layout.ends[j - 1]!);
      const count = Math.min(this.shards.documentLengthOf(document) - within, ids.length - filled);
      await this.shards.readInto(document, within, count, ids, mask, filled);
      segments.push({ row, column: filled, document, from: within, count });
      filled += count;
    }
    return segments;
  }

  private epochLayout(epoch: number): EpochLayout {
    let layout = this.epochs.get(epoch);
    if (layout === undefined) {
      const order = permutation(this.documents.length, new SeededRandom(SHUFFLE_STREAM, this.seed, epoch));
      layout = this.layout(order.map((i) => this.documents[i]!));
      // Rows straddle at most two epochs; keep the two most recent layouts.
      if (this.epochs.size >= 2) this.epochs.delete(this.epochs.keys().next().value!);
      this.epochs.set(epoch, layout);
    }
    return layout;
  }

  private layout(order: Uint32Array): EpochLayout {
    const ends = new Float64Array(order.length);
    let end = 0;
    for (let j = 0; j < order.length; j++) {
      end += this.shards.documentLengthOf(order[j]!);
      ends[j] = end;
    }
    return { order, ends };
  }
}

/** The first j with ends[j] > offset (binary search; ends ascend strictly, as documents are non-empty). */
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

function checkStep(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new InvalidArgumentError(name, `expected a non-negative integer, got ${value}`);
}

export interface BatchSourcesOptions extends BatchShape {
  seed: number;
  packing?: Packing;
  /** Documents kept out of training, for evaluation. */
  heldOut?: HeldOutSplit;
}

/** The training source and, when a split is asked for, the held-out one (same shape, disjoint documents). */
export function batchSources(shards: TokenShards, options: BatchSourcesOptions): { train: BatchSource; heldOut: BatchSource | undefined } {
  const { heldOut, ...shape } = options;
  if (heldOut === undefined) return { train: new BatchSource(shards, shape), heldOut: undefined };
  const split = splitDocuments(shards.documentCount, heldOut);
  return {
    train: new BatchSource(shards, { ...shape, documents: split.train }),
    heldOut: new BatchSource(shards, { ...shape, documents: split.heldOut }),
  };
}
