// The KV cache of one sequence batch: per layer, rotated keys and values of earlier positions
// in fixed-size host buffers, so decode graphs keep one static shape. Global layers hold up to
// `capacity` positions; sliding layers a ring of `slidingWindow` slots, so their memory stays
// bounded however long the context grows (Hugging Face's HybridCache does the same).
import { InvalidArgumentError } from "../../errors.js";
import { HostTensor } from "../../tensor/host-tensor.js";
import type { Gemma2Config, LayerKind } from "./config.js";

export class KVCache {
  readonly batchSize: number;
  /** Slots per layer kind. */
  readonly slots: Readonly<Record<LayerKind, number>>;
  /** The position held by each slot of each kind, -1 when empty. */
  readonly slotPositions: Record<LayerKind, Int32Array>;
  readonly keys: HostTensor<"float32">[];
  readonly values: HostTensor<"float32">[];
  /** Positions written so far: the next token's position. */
  length = 0;

  constructor(
    readonly config: Gemma2Config,
    options: { batchSize?: number; capacity: number },
  ) {
    this.batchSize = options.batchSize ?? 1;
    const sliding = Math.min(config.slidingWindow, options.capacity);
    this.slots = { full_attention: options.capacity, sliding_attention: sliding };
    this.slotPositions = {
      full_attention: new Int32Array(options.capacity).fill(-1),
      sliding_attention: new Int32Array(sliding).fill(-1),
    };
    const shape = (kind: LayerKind) => [this.batchSize, config.numKeyValueHeads, this.slots[kind], config.headDim];
    this.keys = config.layerTypes.map((kind) => HostTensor.float32(shape(kind)));
    this.values = config.layerTypes.map((kind) => HostTensor.float32(shape(kind)));
  }

  /** Stores the keys/values [B, K, T, h] of positions length..length+T-1 for every layer, then advances. */
  append(newKeys: readonly HostTensor[], newValues: readonly HostTensor[]): void {
    const T = newKeys[0]!.shape[2]!;
    if (this.length + T > this.slots.full_attention) {
      throw new InvalidArgumentError("cache", `${this.length + T} positions exceed the capacity of ${this.slots.full_attention}`);
    }
    this.config.layerTypes.forEach((kind, layer) => {
      this.write(this.keys[layer]!, newKeys[layer]!, kind, T);
      this.write(this.values[layer]!, newValues[layer]!, kind, T);
    });
    for (const kind of ["full_attention", "sliding_attention"] as const) {
      const slots = this.slots[kind];
      // Only the last `slots` new positions survive in a ring smaller than the step.
      for (let t = Math.max(0, T - slots); t < T; t++) this.slotPositions[kind][(this.length + t) % slots] = this.length + t;
    }
    this.length += T;
  }

  private write(cache: HostTensor<"float32">, fresh: HostTensor, kind: LayerKind, T: number): void {
    const slots = this.slots[kind];
    const h = this.config.headDim;
    const rows = this.batchSize * this.config.numKeyValueHeads;
    const source = fresh.toFloat32().data;
    for (let row = 0; row < rows; row++) {
      for (let t = Math.max(0, T - slots); t < T; t++) {
        const slot = (this.length + t) % slots;
        cache.data.set(source.subarray((row * T + t) * h, (row * T + t + 1) * h), (row * slots + slot) * h);
      }
    }
  }
}
