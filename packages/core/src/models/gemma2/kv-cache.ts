// The KV cache of a batch of independent sequences: per layer, rotated keys and values of earlier
// positions in host buffers [B, K, slots, h] allocated once; the model's graph reads only the slots
// in use.
// Global layers hold up to `capacity` positions; sliding layers a ring of `slidingWindow` slots,
// so their memory stays bounded however long the context grows (Hugging Face's HybridCache).
// Each row has its own length, so sequences can join and leave a running batch (continuous
// batching); `row(b)` is a one-row view sharing the same memory, for prefilling one sequence, and
// `rows(n)` the first n rows.
import { InvalidArgumentError } from "../../errors.js";
import { HostTensor } from "../../tensor/host-tensor.js";
import type { Gemma2Config, LayerKind } from "./config.js";

export class KVCache {
  readonly batchSize: number;
  /** Slots per layer kind. */
  readonly slots: Readonly<Record<LayerKind, number>>;
  /** Positions written so far, per row: the row's next position. */
  readonly lengths: Int32Array;
  /** The position held by each slot, per kind, row-major [B, slots]; -1 when empty. */
  readonly slotPositions: Readonly<Record<LayerKind, Int32Array>>;
  readonly keys: readonly HostTensor<"float32">[];
  readonly values: readonly HostTensor<"float32">[];

  /** `view` is internal: `row` passes another cache's memory instead of allocating. */
  constructor(
    readonly config: Gemma2Config,
    options: { batchSize?: number; capacity: number },
    view?: KVCacheView,
  ) {
    this.batchSize = options.batchSize ?? 1;
    const sliding = Math.min(config.slidingWindow, options.capacity);
    this.slots = { full_attention: options.capacity, sliding_attention: sliding };
    if (view) {
      ({ lengths: this.lengths, slotPositions: this.slotPositions, keys: this.keys, values: this.values } = view);
      return;
    }
    this.lengths = new Int32Array(this.batchSize);
    this.slotPositions = {
      full_attention: new Int32Array(this.batchSize * options.capacity).fill(-1),
      sliding_attention: new Int32Array(this.batchSize * sliding).fill(-1),
    };
    const shape = (kind: LayerKind) => [this.batchSize, config.numKeyValueHeads, this.slots[kind], config.headDim];
    this.keys = config.layerTypes.map((kind) => HostTensor.float32(shape(kind)));
    this.values = config.layerTypes.map((kind) => HostTensor.float32(shape(kind)));
  }

  /** The one position count when every row has the same length (single-sequence use). */
  get length(): number {
    return this.lengths[0]!;
  }

  /** Slot positions of one row and kind. */
  rowSlotPositions(row: number, kind: LayerKind): Int32Array {
    const slots = this.slots[kind];
    return this.slotPositions[kind].subarray(row * slots, (row + 1) * slots);
  }

  /** A batch-of-one cache sharing row `b`'s memory: prefill one sequence of a running batch. */
  row(b: number): KVCache {
    this.checkRow(b);
    return this.rows(1, b);
  }

  /**
   * A cache of `count` rows from row `first` on, sharing this one's memory (rows are contiguous,
   * so a run of rows is a plain view): a batch can run over just the rows that are busy, not the
   * whole pool.
   */
  rows(count: number, first = 0): KVCache {
    if (!Number.isInteger(first) || first < 0 || !Number.isInteger(count) || count < 1 || first + count > this.batchSize) {
      throw new InvalidArgumentError("count", `${count} rows from row ${first} of a batch of ${this.batchSize}`);
    }
    if (count === this.batchSize) return this;
    const run = (tensor: HostTensor<"float32">) => {
      const [, K, slots, h] = tensor.shape as [number, number, number, number];
      const size = K * slots * h;
      return new HostTensor("float32", [count, K, slots, h], tensor.data.subarray(first * size, (first + count) * size));
    };
    const positions = (kind: LayerKind) => this.slotPositions[kind].subarray(first * this.slots[kind], (first + count) * this.slots[kind]);
    const view: KVCacheView = {
      lengths: this.lengths.subarray(first, first + count),
      slotPositions: { full_attention: positions("full_attention"), sliding_attention: positions("sliding_attention") },
      keys: this.keys.map(run),
      values: this.values.map(run),
    };
    return new KVCache(this.config, { batchSize: count, capacity: this.slots.full_attention }, view);
  }

  /** Empties row b for a new sequence (its old keys stay but are masked out). */
  resetRow(b: number): void {
    this.checkRow(b);
    this.lengths[b] = 0;
    this.rowSlotPositions(b, "full_attention").fill(-1);
    this.rowSlotPositions(b, "sliding_attention").fill(-1);
  }

  /**
   * Forgets row b's positions from `length` on, so they can be recomputed (e.g. to get the logits
   * of a cached prompt's last token). A sliding layer's ring only still holds the keys the next
   * query needs when at most one position is dropped past the window: other cuts throw.
   */
  truncate(b: number, length: number): void {
    this.checkRow(b);
    const current = this.lengths[b]!;
    if (!Number.isInteger(length) || length < 0 || length > current) {
      throw new InvalidArgumentError("length", `cannot truncate a row of ${current} positions to ${length}`);
    }
    if (current > this.slots.sliding_attention && length < current - 1) {
      throw new InvalidArgumentError("length", `the sliding-window ring no longer holds the keys before position ${current - 1}`);
    }
    for (const kind of ["full_attention", "sliding_attention"] as const) {
      const positions = this.rowSlotPositions(b, kind);
      for (let slot = 0; slot < positions.length; slot++) if (positions[slot]! >= length) positions[slot] = -1;
    }
    this.lengths[b] = length;
  }

  /**
   * Stores the keys/values [B, K, T, h] of each row's next T positions for every layer, then
   * advances those rows. Rows not `active` (idle slots of a running batch) are left untouched.
   */
  append(newKeys: readonly HostTensor[], newValues: readonly HostTensor[], active?: ArrayLike<boolean>): void {
    const T = newKeys[0]!.shape[2]!;
    for (let b = 0; b < this.batchSize; b++) {
      if (active && !active[b]) continue;
      if (this.lengths[b]! + T > this.slots.full_attention) {
        throw new InvalidArgumentError("cache", `row ${b}: ${this.lengths[b]! + T} positions exceed the capacity of ${this.slots.full_attention}`);
      }
    }
    this.config.layerTypes.forEach((kind, layer) => {
      this.write(this.keys[layer]!, newKeys[layer]!, kind, T, active);
      this.write(this.values[layer]!, newValues[layer]!, kind, T, active);
    });
    for (let b = 0; b < this.batchSize; b++) {
      if (active && !active[b]) continue;
      for (const kind of ["full_attention", "sliding_attention"] as const) {
        const slots = this.slots[kind];
        const positions = this.rowSlotPositions(b, kind);
        // Only the last `slots` new positions survive in a ring smaller than the step.
        for (let t = Math.max(0, T - slots); t < T; t++) positions[(this.lengths[b]! + t) % slots] = this.lengths[b]! + t;
      }
      this.lengths[b]! += T;
    }
  }

  private write(cache: HostTensor<"float32">, fresh: HostTensor, kind: LayerKind, T: number, active: ArrayLike<boolean> | undefined): void {
    const slots = this.slots[kind];
    const h = this.config.headDim;
    const K = this.config.numKeyValueHeads;
    const source = fresh.toFloat32().data;
    for (let b = 0; b < this.batchSize; b++) {
      if (active && !active[b]) continue;
      const start = this.lengths[b]!;
      for (let head = 0; head < K; head++) {
        const row = b * K + head;
        for (let t = Math.max(0, T - slots); t < T; t++) {
          const slot = (start + t) % slots;
          cache.data.set(source.subarray((row * T + t) * h, (row * T + t + 1) * h), (row * slots + slot) * h);
        }
      }
    }
  }

  private checkRow(b: number): void {
    if (!Number.isInteger(b) || b < 0 || b >= this.batchSize) throw new InvalidArgumentError("row", `${b} is not a row of a batch of ${this.batchSize}`);
  }
}

interface KVCacheView {
  lengths: Int32Array;
  slotPositions: Record<LayerKind, Int32Array>;
  keys: HostTensor<"float32">[];
  values: HostTensor<"float32">[];
}
