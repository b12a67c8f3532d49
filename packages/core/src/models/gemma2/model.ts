// Gemma2Model: a config, its weights and a Backend. It traces the forward pass for each shape it
// meets (batch, new tokens, with or without a cache), compiles it once and reuses it; callers see
// `forward(ids) -> logits`. Weights are graph constants (inference), which onnxruntime pre-packs.
import type { Backend, Executable } from "../../backend/backend.js";
import { GraphBuilder, type SymbolicTensor } from "../../graph/builder.js";
import { InvalidArgumentError } from "../../errors.js";
import { ropeTables } from "../../nn/rope.js";
import { HostTensor } from "../../tensor/host-tensor.js";
import type { CausalLM } from "../causal-lm.js";
import type { Gemma2Config, LayerKind } from "./config.js";
import { gemma2Forward } from "./forward.js";
import type { KVCache } from "./kv-cache.js";
import { attentionMask } from "./masks.js";
import type { Gemma2Params } from "./params.js";

const KINDS: readonly LayerKind[] = ["sliding_attention", "full_attention"];

export class Gemma2Model implements CausalLM {
  private readonly executables = new Map<string, Promise<Executable>>();

  constructor(
    readonly config: Gemma2Config,
    readonly params: Gemma2Params,
    readonly backend: Backend,
  ) {}

  /**
   * Logits of every new position. ids: B rows of T token ids. Without a cache the positions are
   * 0..T-1; with one, each row continues from its own length and the cache is extended. Rows not
   * `active` (idle slots of a running batch) are computed but leave the cache untouched.
   * Returns float32 [B, T, vocab].
   */
  async forward(ids: readonly (readonly number[])[], cache?: KVCache, options: { active?: ArrayLike<boolean> } = {}): Promise<HostTensor<"float32">> {
    const B = ids.length;
    const T = ids[0]?.length ?? 0;
    if (B === 0 || T === 0 || ids.some((row) => row.length !== T)) {
      throw new InvalidArgumentError("ids", "expected a non-empty rectangular batch of token ids");
    }
    for (const row of ids) {
      for (const id of row) {
        if (!Number.isInteger(id) || id < 0 || id >= this.config.vocabSize) {
          throw new InvalidArgumentError("ids", `token id ${id} is outside the vocabulary [0, ${this.config.vocabSize})`);
        }
      }
    }
    if (cache && cache.batchSize !== B) throw new InvalidArgumentError("cache", `batch size ${cache.batchSize}, ids have ${B} rows`);
    const inputs = this.positionInputs(B, T, cache);
    inputs.ids = HostTensor.int64([B, T], ids.flat());
    if (cache) {
      cache.keys.forEach((tensor, layer) => (inputs[`past.${layer}.keys`] = tensor));
      cache.values.forEach((tensor, layer) => (inputs[`past.${layer}.values`] = tensor));
    }
    const executable = await this.compiled(B, T, cache);
    const outputs = await executable.run(inputs);
    if (cache) {
      const layers = this.config.numHiddenLayers;
      cache.append(
        Array.from({ length: layers }, (_, layer) => outputs[`new.${layer}.keys`]!),
        Array.from({ length: layers }, (_, layer) => outputs[`new.${layer}.values`]!),
        options.active,
      );
    }
    return outputs.logits!.toFloat32();
  }

  /** RoPE tables [B, 1, T, h/2] and masks [B, 1, 1, T, S] for each row's next T positions. */
  private positionInputs(B: number, T: number, cache: KVCache | undefined): Record<string, HostTensor> {
    const half = this.config.headDim / 2;
    const cos = HostTensor.float32([B, 1, T, half]);
    const sin = HostTensor.float32([B, 1, T, half]);
    const masks = KINDS.map((kind) => HostTensor.zeros("bool", [B, 1, 1, T, (cache?.slots[kind] ?? 0) + T]));
    for (let b = 0; b < B; b++) {
      const start = cache?.lengths[b] ?? 0;
      const positions = Array.from({ length: T }, (_, t) => start + t);
      const tables = ropeTables(positions, this.config.headDim, this.config.ropeTheta);
      cos.data.set(tables.cos.data, b * T * half);
      sin.data.set(tables.sin.data, b * T * half);
      KINDS.forEach((kind, k) => {
        const past = cache ? Array.from(cache.rowSlotPositions(b, kind)) : [];
        const mask = attentionMask(positions, [...past, ...positions], kind, this.config.slidingWindow);
        masks[k]!.data.set(mask.data, b * mask.size);
      });
    }
    const inputs: Record<string, HostTensor> = { "rope.cos": cos, "rope.sin": sin };
    KINDS.forEach((kind, k) => (inputs[`mask.${kind}`] = masks[k]!));
    return inputs;
  }

  /** Releases the compiled graphs. */
  async dispose(): Promise<void> {
    const executables = await Promise.all(this.executables.values());
    this.executables.clear();
    await Promise.all(executables.map((executable) => executable.dispose()));
  }

  private compiled(B: number, T: number, cache: KVCache | undefined): Promise<Executable> {
    const key = cache ? `${B}x${T}+${cache.slots.full_attention}/${cache.slots.sliding_attention}` : `${B}x${T}`;
    let executable = this.executables.get(key);
    if (!executable) {
      executable = this.backend.compile(this.trace(B, T, cache));
      this.executables.set(key, executable);
    }
    return executable;
  }

  private trace(B: number, T: number, cache: KVCache | undefined) {
    const { config } = this;
    const b = new GraphBuilder();
    const ids = b.input("ids", "int64", [B, T]);
    const cos = b.input("rope.cos", "float32", [B, 1, T, config.headDim / 2]);
    const sin = b.input("rope.sin", "float32", [B, 1, T, config.headDim / 2]);
    const masks = {} as Record<LayerKind, SymbolicTensor>;
    for (const kind of KINDS) masks[kind] = b.input(`mask.${kind}`, "bool", [B, 1, 1, T, (cache?.slots[kind] ?? 0) + T]);
    const past = cache
      ? config.layerTypes.map((_, layer) => ({
          keys: b.input(`past.${layer}.keys`, "float32", cache.keys[layer]!.shape),
          values: b.input(`past.${layer}.values`, "float32", cache.values[layer]!.shape),
        }))
      : undefined;
    const weights = new Map<string, SymbolicTensor>();
    const weight = (name: string): SymbolicTensor => {
      let tensor = weights.get(name);
      if (!tensor) {
        const value = this.params.get(name);
        if (!value) throw new InvalidArgumentError("params", `missing weight ${name}`);
        tensor = b.constant(value);
        weights.set(name, tensor);
      }
      return tensor;
    };
    const out = gemma2Forward(config, weight, { ids, cos, sin, masks, past });
    const outputs: Record<string, SymbolicTensor> = { logits: out.logits };
    if (cache) {
      out.keys.forEach((tensor, layer) => (outputs[`new.${layer}.keys`] = tensor));
      out.values.forEach((tensor, layer) => (outputs[`new.${layer}.values`] = tensor));
    }
    return b.build(outputs);
  }
}
