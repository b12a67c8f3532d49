// The inputs of core's sparseDistillation(k) objective for a BatchSource batch: `teacher.ids`
// int64 [B, T, k] and `teacher.probs` [B, T, k] at each input position (the teacher's distribution
// of the next token, i.e. of that position's target), and the batch's loss `mask` [B, T]. Padding
// positions of the ordered pass get ids 0..k-1 and probabilities 0 (the mask is 0 there). The
// store is keyed by document; where a row packs a document after another, the student reads the
// earlier document as context while the teacher read the document alone, from its <bos>.
import { HostTensor } from "@gemma-ts/core";
import type { Batch, BatchSource } from "@gemma-ts/data";
import { batchSegments } from "./batch-layout.js";
import { BatchMisalignedError, InvalidArgumentError, StoreMismatchError } from "./errors.js";
import type { TeacherStore } from "./teacher-store.js";
import { shardsFingerprint } from "./vocabulary.js";

export interface TeacherBatch {
  "teacher.ids": HostTensor<"int64">;
  "teacher.probs": HostTensor<"float32">;
  mask: HostTensor<"float32">;
}

export interface TeacherBatchesOptions {
  /**
   * Read only the first k entries of each position (default: all the store's). A top-k store
   * lists its ids best first, so they are the top k, the very values a store of that k would hold:
   * one top-64 store serves a top-1, top-8 and top-64 student.
   */
  k?: number;
}

/** Teacher inputs for the batches of one source; checks once that the store is for its shards. */
export class TeacherBatches {
  readonly k: number;

  constructor(
    readonly store: TeacherStore,
    readonly source: BatchSource,
    options: TeacherBatchesOptions = {},
  ) {
    const actual = shardsFingerprint(source.shards);
    if (actual !== store.index.shards.fingerprint) throw new StoreMismatchError(store.dir, "shards", store.index.shards.fingerprint, actual);
    this.k = options.k ?? store.k;
    if (!Number.isInteger(this.k) || this.k < 1 || this.k > store.k) throw new InvalidArgumentError("k", `expected an integer in [1, ${store.k}] (the store's k), got ${this.k}`);
    // Fewer of k samples are not a smaller sample: their weights count / k no longer sum right.
    if (this.k !== store.k && store.index.mode !== "top-k") throw new InvalidArgumentError("k", `a store of ${store.k} samples is read whole; only a top-k store can be read as a smaller top-k`);
  }

  /** The teacher inputs of a batch of this source (from batchAt or orderedBatchAt). */
  async at(batch: Batch): Promise<TeacherBatch> {
    const { batchSize: B, sequenceLength: T } = batch;
    if (B !== this.source.batchSize || T !== this.source.sequenceLength) {
      throw new InvalidArgumentError("batch", `a batch of ${B} x ${T}, the source makes ${this.source.batchSize} x ${this.source.sequenceLength}`);
    }
    const { k } = this;
    const stride = this.store.k;
    const ids = new BigInt64Array(B * T * k);
    const probs = new Float32Array(B * T * k);
    const filled = new Uint8Array(B * T);
    for (const segment of batchSegments(batch)) {
      const stored = await this.store.positions(segment.document, segment.from, segment.count);
      for (let i = 0; i < segment.count; i++) {
        const column = segment.column + i;
        const token = batch.ids[segment.row * (T + 1) + column]!;
        if (stored.tokens[i] !== token) {
          throw new BatchMisalignedError(
            batch.step,
            segment.row,
            column,
            `the batch holds token ${token}, the store has ${stored.tokens[i]} at document ${segment.document}, position ${segment.from + i}`,
          );
        }
        const at = (segment.row * T + column) * k;
        for (let j = 0; j < k; j++) ids[at + j] = BigInt(stored.ids[i * stride + j]!);
        probs.set(stored.probs.subarray(i * stride, i * stride + k), at);
        filled[segment.row * T + column] = 1;
      }
    }
    for (let p = 0; p < B * T; p++) {
      if (filled[p]) continue;
      if (batch.lossMask[p]) throw new BatchMisalignedError(batch.step, Math.floor(p / T), p % T, "a position counted by the loss mask holds no stored token");
      for (let j = 0; j < k; j++) ids[p * k + j] = BigInt(j);
    }
    return {
      "teacher.ids": new HostTensor("int64", [B, T, k], ids),
      "teacher.probs": new HostTensor("float32", [B, T, k], probs),
      mask: new HostTensor("float32", [B, T], Float32Array.from(batch.lossMask)),
    };
  }
}
