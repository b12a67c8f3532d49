// Gemma2Model: a config, its weights and a Backend. Two graphs are traced, each once, with
// symbolic batch, sequence and cache dims: `logits` (no cache) and `cached` (reads the used part
// of a KV cache and returns the new keys and values). The weights are uploaded to the backend once
// and bound to both graphs as inputs, so the process holds one copy however many shapes it meets
// and models past protobuf's 2 GiB limit load. `weights: "constants"` bakes them into each graph
// instead, which lets onnxruntime pre-pack them (faster small-batch matmuls; a copy per graph).
import type { Backend, BackendTensor, Executable } from "../../backend/backend.js";
import { dimSub } from "../../graph/dims.js";
import { GraphBuilder, type SymbolicTensor } from "../../graph/builder.js";
import { InvalidArgumentError } from "../../errors.js";
import { ropeTables } from "../../nn/rope.js";
import { HostTensor } from "../../tensor/host-tensor.js";
import type { CausalLM } from "../causal-lm.js";
import type { Gemma2Config, LayerKind } from "./config.js";
import { gemma2Forward } from "./forward.js";
import type { KVCache } from "./kv-cache.js";
import { attentionMask } from "./masks.js";
import { parameterSpecs, type Gemma2Params } from "./params.js";

const KINDS: readonly LayerKind[] = ["sliding_attention", "full_attention"];

export interface Gemma2ModelOptions {
  /**
   * "inputs" (default): uploaded once and bound to every graph. "constants": baked into each
   * graph, so onnxruntime pre-packs them; faster at batch 1-4, one copy per graph, under 2 GiB only.
   */
  weights?: "inputs" | "constants";
}

type GraphKind = "logits" | "cached";

export class Gemma2Model implements CausalLM {
  private readonly executables = new Map<GraphKind, Promise<Executable>>();
  private uploaded: Map<string, BackendTensor> | undefined;
  private readonly weightMode: "inputs" | "constants";

  constructor(
    readonly config: Gemma2Config,
    readonly params: Gemma2Params,
    readonly backend: Backend,
    options: Gemma2ModelOptions = {},
  ) {
    this.weightMode = options.weights ?? "inputs";
  }

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
    const inputs: Record<string, HostTensor | BackendTensor> = this.positionInputs(B, T, cache);
    inputs.ids = HostTensor.int64([B, T], ids.flat());
    if (cache) {
      cache.keys.forEach((tensor, layer) => (inputs[`past.${layer}.keys`] = tensor));
      cache.values.forEach((tensor, layer) => (inputs[`past.${layer}.values`] = tensor));
    }
    if (this.weightMode === "inputs") for (const [name, tensor] of this.weights()) inputs[name] = tensor;
    const executable = await this.compiled(cache ? "cached" : "logits");
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

  /**
   * RoPE tables [B, 1, T, h/2] and masks [B, 1, 1, T, P + T] for each row's next T positions,
   * where P is the number of cache slots in use (the graph reads only those).
   */
  private positionInputs(B: number, T: number, cache: KVCache | undefined): Record<string, HostTensor> {
    const half = this.config.headDim / 2;
    const cos = HostTensor.float32([B, 1, T, half]);
    const sin = HostTensor.float32([B, 1, T, half]);
    const used = (kind: LayerKind) => (cache ? Math.min(cache.slots[kind], Math.max(...cache.lengths)) : 0);
    const masks = KINDS.map((kind) => HostTensor.zeros("bool", [B, 1, 1, T, used(kind) + T]));
    for (let b = 0; b < B; b++) {
      const start = cache?.lengths[b] ?? 0;
      const positions = Array.from({ length: T }, (_, t) => start + t);
      const tables = ropeTables(positions, this.config.headDim, this.config.ropeTheta);
      cos.data.set(tables.cos.data, b * T * half);
      sin.data.set(tables.sin.data, b * T * half);
      KINDS.forEach((kind, k) => {
        const past = cache ? Array.from(cache.rowSlotPositions(b, kind).subarray(0, used(kind))) : [];
        const mask = attentionMask(positions, [...past, ...positions], kind, this.config.slidingWindow);
        masks[k]!.data.set(mask.data, b * mask.size);
      });
    }
    const inputs: Record<string, HostTensor> = { "rope.cos": cos, "rope.sin": sin };
    KINDS.forEach((kind, k) => (inputs[`mask.${kind}`] = masks[k]!));
    return inputs;
  }

  /** The weights in the backend, uploaded on first use. */
  private weights(): Map<string, BackendTensor> {
    if (!this.uploaded) {
      this.uploaded = new Map();
      for (const spec of parameterSpecs(this.config)) {
        const value = this.params.get(spec.name);
        if (!value) throw new InvalidArgumentError("params", `missing weight ${spec.name}`);
        this.uploaded.set(spec.name, this.backend.upload(value));
      }
    }
    return this.uploaded;
  }

  /** Releases the compiled graphs and the uploaded weights. */
  async dispose(): Promise<void> {
    const executables = await Promise.all(this.executables.values());
    this.executables.clear();
    await Promise.all(executables.map((executable) => executable.dispose()));
    for (const tensor of this.uploaded?.values() ?? []) this.backend.free(tensor);
    this.uploaded = undefined;
  }

  private compiled(kind: GraphKind): Promise<Executable> {
    let executable = this.executables.get(kind);
    if (!executable) {
      executable = this.backend.compile(this.trace(kind));
      this.executables.set(kind, executable);
    }
    return executable;
  }

  private trace(kind: GraphKind) {
    const { config } = this;
    const b = new GraphBuilder();
    const half = config.headDim / 2;
    const ids = b.input("ids", "int64", ["batch", "seq"]);
    const cos = b.input("rope.cos", "float32", ["batch", 1, "seq", half]);
    const sin = b.input("rope.sin", "float32", ["batch", 1, "seq", half]);
    const keyCount: Record<LayerKind, string> = { sliding_attention: "keys_local", full_attention: "keys_global" };
    const masks = {} as Record<LayerKind, SymbolicTensor>;
    for (const layerKind of KINDS) masks[layerKind] = b.input(`mask.${layerKind}`, "bool", ["batch", 1, 1, "seq", kind === "cached" ? keyCount[layerKind] : "seq"]);
    // The cache buffers come whole ([batch, K, slots, h]); the graph reads the slots in use, as
    // many as the mask has keys before the new ones, so decode cost follows the context, not the capacity.
    const slotCount: Record<LayerKind, string> = { sliding_attention: "slots_local", full_attention: "slots_global" };
    const past =
      kind === "cached"
        ? config.layerTypes.map((layerKind, layer) => {
            const shape = ["batch", config.numKeyValueHeads, slotCount[layerKind], config.headDim];
            const used = dimSub(keyCount[layerKind], "seq");
            return {
              keys: b.input(`past.${layer}.keys`, "float32", shape).slice(2, 0, used),
              values: b.input(`past.${layer}.values`, "float32", shape).slice(2, 0, used),
            };
          })
        : undefined;
    const weights = new Map<string, SymbolicTensor>();
    for (const spec of parameterSpecs(config)) {
      const value = this.params.get(spec.name);
      if (!value) throw new InvalidArgumentError("params", `missing weight ${spec.name}`);
      weights.set(spec.name, this.weightMode === "constants" ? b.constant(value) : b.input(spec.name, value.dtype, value.shape));
    }
    const out = gemma2Forward(config, (name) => weights.get(name)!, { ids, cos, sin, masks, past });
    const outputs: Record<string, SymbolicTensor> = { logits: out.logits };
    if (past) {
      out.keys.forEach((tensor, layer) => (outputs[`new.${layer}.keys`] = tensor));
      out.values.forEach((tensor, layer) => (outputs[`new.${layer}.values`] = tensor));
    }
    return b.build(outputs);
  }
}
