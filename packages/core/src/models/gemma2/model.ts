// Gemma2Model: a config, its weights and a Backend. The forward pass is traced once, with
// symbolic batch, sequence and cache dims, into one graph that reads the used part of a KV cache
// and returns the new keys and values; a call without a cache runs it on an empty one. So one
// compiled graph serves prefill, decode and scoring at every shape. The weights are either bound
// as inputs, uploaded to the backend once (one copy, no 2 GiB protobuf limit), or baked into the
// graph as constants, which lets onnxruntime pre-pack them (1.5-1.7x faster decode at batch 1,
// at the cost of a packed copy). By default small models take constants and large ones inputs.
import type { Backend, BackendTensor, Executable } from "../../backend/backend.js";
import { dimSub } from "../../graph/dims.js";
import { GraphBuilder, type SymbolicTensor } from "../../graph/builder.js";
import { InvalidArgumentError } from "../../errors.js";
import { ropeTables } from "../../nn/rope.js";
import { HostTensor } from "../../tensor/host-tensor.js";
import type { CausalLM } from "../causal-lm.js";
import type { Gemma2Config, LayerKind } from "./config.js";
import { gemma2Forward } from "./forward.js";
import { KVCache } from "./kv-cache.js";
import { attentionMask } from "./masks.js";
import { isQuantizable, parameterSpecs, type Gemma2Params } from "./params.js";
import type { Weight } from "../../nn/quantized.js";
import { QUANT_BITS, quantizeMatrix, type QuantizedMatrix, type QuantType } from "../../quant/blocks.js";

const KINDS: readonly LayerKind[] = ["sliding_attention", "full_attention"];

export interface Gemma2ModelOptions {
  /**
   * "inputs": uploaded to the backend once and bound to the graph. "constants": baked into the
   * graph, which onnxruntime pre-packs (faster small-batch matmuls, a second copy; under 2 GiB only).
   * Default: constants up to CONSTANT_WEIGHTS_MAX_BYTES of weights, inputs above.
   */
  weights?: "inputs" | "constants";
  /**
   * Block-quantize the embedding (which is also the output projection) and every projection
   * matrix, as llama.cpp's Q8_0 or Q4_0; norms stay float32. Quantized weights are always graph
   * constants, which onnxruntime pre-packs for its MatMulNBits kernels.
   */
  quantize?: QuantType;
  /** Matrices already quantized (loadHfCheckpoint's `quantize`, a quantized GGUF); their float32 params may be absent. */
  quantized?: ReadonlyMap<string, QuantizedMatrix>;
}

/** Up to this many bytes of weights, the default is to bake them into the graph. */
export const CONSTANT_WEIGHTS_MAX_BYTES = 512 * 2 ** 20;

export class Gemma2Model implements CausalLM {
  private executable: Promise<Executable> | undefined;
  private uploaded: Map<string, BackendTensor> | undefined;
  readonly weightMode: "inputs" | "constants";
  readonly quantize: QuantType | undefined;
  private quantized: Map<string, QuantizedMatrix> | undefined;

  constructor(
    readonly config: Gemma2Config,
    readonly params: Gemma2Params,
    readonly backend: Backend,
    options: Gemma2ModelOptions = {},
  ) {
    let bytes = 0;
    for (const tensor of params.values()) bytes += tensor.data.byteLength;
    const given = options.quantized?.values().next().value;
    this.quantize = options.quantize ?? (given ? (given.bits === 8 ? "q8" : "q4") : undefined);
    for (const [name, matrix] of options.quantized ?? []) {
      if (QUANT_BITS[this.quantize!] !== matrix.bits) throw new InvalidArgumentError("quantized", `'${name}' has ${matrix.bits} bits, the model quantizes to '${this.quantize}'`);
    }
    this.quantized = options.quantized ? new Map(options.quantized) : undefined;
    if (this.quantize && options.weights === "inputs") throw new InvalidArgumentError("weights", "quantized weights are always graph constants");
    this.weightMode = options.weights ?? (this.quantize || bytes <= CONSTANT_WEIGHTS_MAX_BYTES ? "constants" : "inputs");
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
    const kv = cache ?? new KVCache(this.config, { batchSize: B, capacity: 0 });
    const inputs: Record<string, HostTensor | BackendTensor> = this.positionInputs(B, T, kv, options.active);
    inputs.ids = HostTensor.int64([B, T], ids.flat());
    kv.keys.forEach((tensor, layer) => (inputs[`past.${layer}.keys`] = tensor));
    kv.values.forEach((tensor, layer) => (inputs[`past.${layer}.values`] = tensor));
    if (this.weightMode === "inputs") for (const [name, tensor] of this.weights()) inputs[name] = tensor;
    this.executable ??= this.compile().catch((error: unknown) => {
      this.executable = undefined; // a failed compile (say, a full disk) is not remembered
      throw error;
    });
    const outputs = await (await this.executable).run(inputs);
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
   * where P is the number of cache slots the active rows use (the graph reads only those; an
   * inactive row's output is discarded, so its longer history need not be read).
   */
  private positionInputs(B: number, T: number, cache: KVCache, active: ArrayLike<boolean> | undefined): Record<string, HostTensor> {
    const half = this.config.headDim / 2;
    const cos = HostTensor.float32([B, 1, T, half]);
    const sin = HostTensor.float32([B, 1, T, half]);
    let longest = 0;
    for (let b = 0; b < B; b++) if (!active || active[b]) longest = Math.max(longest, cache.lengths[b]!);
    const used = (kind: LayerKind) => Math.min(cache.slots[kind], longest);
    const masks = KINDS.map((kind) => HostTensor.zeros("bool", [B, 1, 1, T, used(kind) + T]));
    for (let b = 0; b < B; b++) {
      const start = cache.lengths[b]!;
      const positions = Array.from({ length: T }, (_, t) => start + t);
      const tables = ropeTables(positions, this.config.headDim, this.config.ropeTheta);
      cos.data.set(tables.cos.data, b * T * half);
      sin.data.set(tables.sin.data, b * T * half);
      KINDS.forEach((kind, k) => {
        const past = Array.from(cache.rowSlotPositions(b, kind).subarray(0, used(kind)));
        const mask = attentionMask(positions, [...past, ...positions], kind, this.config.slidingWindow);
        masks[k]!.data.set(mask.data, b * mask.size);
      });
    }
    const inputs: Record<string, HostTensor> = { "rope.cos": cos, "rope.sin": sin };
    KINDS.forEach((kind, k) => (inputs[`mask.${kind}`] = masks[k]!));
    return inputs;
  }

  /**
   * Compiles the graph. The quantized matrices are then the backend's (onnxruntime has copied
   * them), so the model lets go of its own copy; a recompile after dispose quantizes the float32
   * params again (a model given only quantized matrices cannot recompile: "missing weight").
   */
  private async compile(): Promise<Executable> {
    const executable = await this.backend.compile(this.trace());
    this.quantized = undefined;
    return executable;
  }

  /** The quantized matrices: those given, and the rest quantized from the float32 params. */
  private quantizedMatrices(): Map<string, QuantizedMatrix> | undefined {
    if (!this.quantize) return undefined;
    this.quantized ??= new Map();
    for (const [name, tensor] of this.params) {
      if (isQuantizable(name) && !this.quantized.has(name)) this.quantized.set(name, quantizeMatrix(tensor, QUANT_BITS[this.quantize]));
    }
    return this.quantized;
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

  /** Releases the compiled graph and the uploaded weights. */
  async dispose(): Promise<void> {
    const executable = await this.executable?.catch(() => undefined);
    this.executable = undefined;
    if (executable) await executable.dispose();
    for (const tensor of this.uploaded?.values() ?? []) this.backend.free(tensor);
    this.uploaded = undefined;
  }

  private trace() {
    const { config } = this;
    const b = new GraphBuilder();
    const half = config.headDim / 2;
    const ids = b.input("ids", "int64", ["batch", "seq"]);
    const cos = b.input("rope.cos", "float32", ["batch", 1, "seq", half]);
    const sin = b.input("rope.sin", "float32", ["batch", 1, "seq", half]);
    const keyCount: Record<LayerKind, string> = { sliding_attention: "keys_local", full_attention: "keys_global" };
    const masks = {} as Record<LayerKind, SymbolicTensor>;
    for (const layerKind of KINDS) masks[layerKind] = b.input(`mask.${layerKind}`, "bool", ["batch", 1, 1, "seq", keyCount[layerKind]]);
    // The cache buffers come whole ([batch, K, slots, h]); the graph reads the slots in use, as
    // many as the mask has keys before the new ones, so decode cost follows the context, not the capacity.
    const slotCount: Record<LayerKind, string> = { sliding_attention: "slots_local", full_attention: "slots_global" };
    const past = config.layerTypes.map((layerKind, layer) => {
      const shape = ["batch", config.numKeyValueHeads, slotCount[layerKind], config.headDim];
      const used = dimSub(keyCount[layerKind], "seq");
      return {
        keys: b.input(`past.${layer}.keys`, "float32", shape).slice(2, 0, used),
        values: b.input(`past.${layer}.values`, "float32", shape).slice(2, 0, used),
      };
    });
    const weights = new Map<string, Weight>();
    const quantized = this.quantizedMatrices();
    for (const spec of parameterSpecs(config)) {
      const matrix = quantized?.get(spec.name);
      if (matrix) {
        weights.set(spec.name, { bits: matrix.bits, blocks: b.constant(matrix.blocks), scales: b.constant(matrix.scales) });
        continue;
      }
      const value = this.params.get(spec.name);
      if (!value) throw new InvalidArgumentError("params", `missing weight ${spec.name}`);
      weights.set(spec.name, this.weightMode === "constants" ? b.constant(value) : b.input(spec.name, value.dtype, value.shape));
    }
    const out = gemma2Forward(config, (name) => weights.get(name)!, { ids, cos, sin, masks, past });
    const outputs: Record<string, SymbolicTensor> = { logits: out.logits };
    out.keys.forEach((tensor, layer) => (outputs[`new.${layer}.keys`] = tensor));
    out.values.forEach((tensor, layer) => (outputs[`new.${layer}.values`] = tensor));
    return b.build(outputs);
  }
}
