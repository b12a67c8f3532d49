// OnnxFolderModel: a folder written by exportOnnxFolder (or Optimum: onnx/model.onnx + config.json)
// run by onnxruntime-node as a CausalLM, with the same KVCache semantics as Gemma2Model, so the
// engine and the API server can serve an exported model. Each call lays the cache rows out as the
// graph's past_key_values [B, K, P, h] (rows right-aligned, left padding hidden by attention_mask,
// since the graph masks by key/query index), runs once, and writes the last T of present back.
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { InferenceSession, Tensor } from "onnxruntime-node";
import { BackendError, InvalidArgumentError, MalformedCheckpointError } from "../../errors.js";
import type { CausalLM } from "../../models/causal-lm.js";
import { configFromHf, type Gemma2Config } from "../../models/gemma2/config.js";
import type { KVCache } from "../../models/gemma2/kv-cache.js";
import { HostTensor } from "../../tensor/host-tensor.js";
import { ONNX_MODEL_FILE } from "./export-folder.js";

export interface OnnxFolderModelOptions {
  /** Threads one kernel may use. Default: onnxruntime's choice (the physical cores). */
  intraOpThreads?: number;
}

export class OnnxFolderModel implements CausalLM {
  private released = false;

  private constructor(
    readonly config: Gemma2Config,
    private readonly session: InferenceSession,
  ) {}

  /** Reads config.json (configFromHf) and opens onnx/model.onnx; typed errors for missing files. */
  static async load(dir: string, options: OnnxFolderModelOptions = {}): Promise<OnnxFolderModel> {
    const configFile = join(dir, "config.json");
    const modelFile = join(dir, ONNX_MODEL_FILE);
    let text: string;
    try {
      text = await readFile(configFile, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") throw new MalformedCheckpointError(configFile, "missing");
      throw error;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      throw new MalformedCheckpointError(configFile, `not valid JSON (${(error as Error).message})`);
    }
    const config = configFromHf(json);
    if (!(await stat(modelFile).catch(() => undefined))?.isFile()) throw new MalformedCheckpointError(modelFile, "missing");
    const session = await InferenceSession.create(modelFile, {
      executionProviders: ["cpu"],
      graphOptimizationLevel: "all",
      executionMode: "sequential",
      interOpNumThreads: 1,
      ...(options.intraOpThreads === undefined ? {} : { intraOpNumThreads: options.intraOpThreads }),
    });
    return new OnnxFolderModel(config, session);
  }

  async forward(ids: readonly (readonly number[])[], cache?: KVCache, options: { active?: ArrayLike<boolean> } = {}): Promise<HostTensor<"float32">> {
    if (this.released) throw new InvalidArgumentError("model", "has been disposed");
    const B = ids.length;
    const T = ids[0]?.length ?? 0;
    if (B === 0 || T === 0 || ids.some((row) => row.length !== T)) {
      throw new InvalidArgumentError("ids", "expected a non-empty rectangular batch of token ids");
    }
    const { vocabSize, numKeyValueHeads: K, headDim: h, numHiddenLayers } = this.config;
    for (const row of ids) {
      for (const id of row) {
        if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
          throw new InvalidArgumentError("ids", `token id ${id} is outside the vocabulary [0, ${vocabSize})`);
        }
      }
    }
    if (cache && cache.batchSize !== B) throw new InvalidArgumentError("cache", `batch size ${cache.batchSize}, ids have ${B} rows`);

    const lengths = Array.from({ length: B }, (_, b) => cache?.lengths[b] ?? 0);
    const P = Math.max(0, ...lengths);
    const int64 = (values: number[]) => new Tensor("int64", BigInt64Array.from(values, (v) => BigInt(v)), [B, values.length / B]);
    const feeds: Record<string, Tensor> = {
      input_ids: int64(ids.flat()),
      // Row b's past sits at indices P - L_b .. P - 1; the indices before are padding.
      attention_mask: int64(lengths.flatMap((length) => Array.from({ length: P + T }, (_, i) => (i >= P - length ? 1 : 0)))),
      position_ids: int64(lengths.flatMap((length) => Array.from({ length: T }, (_, t) => length + t))),
    };
    for (let layer = 0; layer < numHiddenLayers; layer++) {
      feeds[`past_key_values.${layer}.key`] = new Tensor("float32", this.past(cache, layer, "keys", lengths, P), [B, K, P, h]);
      feeds[`past_key_values.${layer}.value`] = new Tensor("float32", this.past(cache, layer, "values", lengths, P), [B, K, P, h]);
    }

    let results: InferenceSession.ReturnType;
    try {
      results = await this.session.run(feeds);
    } catch (error) {
      throw new BackendError("onnxruntime-node", `run ${ONNX_MODEL_FILE}`, error);
    }
    if (cache) {
      const newKeys: HostTensor<"float32">[] = [];
      const newValues: HostTensor<"float32">[] = [];
      for (let layer = 0; layer < numHiddenLayers; layer++) {
        newKeys.push(lastPositions(results[`present.${layer}.key`], B, K, P, T, h));
        newValues.push(lastPositions(results[`present.${layer}.value`], B, K, P, T, h));
      }
      cache.append(newKeys, newValues, options.active);
    }
    const logits = results.logits;
    if (!logits) throw new InvalidArgumentError("model", `${ONNX_MODEL_FILE} returned no logits`);
    return new HostTensor("float32", [B, T, vocabSize], logits.data as Float32Array);
  }

  async dispose(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await this.session.release();
  }

  /**
   * One layer's past [B, K, P, h]: each cached position p of row b at index P - L_b + p, found
   * through the cache's slot positions (a sliding layer's ring holds only the last `window`).
   * Positions no longer held stay zero; the graph's window mask hides them.
   */
  private past(cache: KVCache | undefined, layer: number, part: "keys" | "values", lengths: readonly number[], P: number): Float32Array {
    const { numKeyValueHeads: K, headDim: h } = this.config;
    const out = new Float32Array(lengths.length * K * P * h);
    if (!cache || P === 0) return out;
    const kind = this.config.layerTypes[layer]!;
    const slots = cache.slots[kind];
    const source = cache[part][layer]!.data;
    lengths.forEach((length, b) => {
      const positions = cache.rowSlotPositions(b, kind);
      for (let slot = 0; slot < slots; slot++) {
        const position = positions[slot]!;
        if (position < 0 || position >= length) continue;
        for (let head = 0; head < K; head++) {
          const row = b * K + head;
          out.set(source.subarray((row * slots + slot) * h, (row * slots + slot + 1) * h), (row * P + P - length + position) * h);
        }
      }
    });
    return out;
  }
}

/** The last T positions of present [B, K, P + T, h], as [B, K, T, h]. */
function lastPositions(present: Tensor | undefined, B: number, K: number, P: number, T: number, h: number): HostTensor<"float32"> {
  if (!present) throw new InvalidArgumentError("model", `${ONNX_MODEL_FILE} returned no present keys/values`);
  const source = present.data as Float32Array;
  const out = HostTensor.float32([B, K, T, h]);
  for (let row = 0; row < B * K; row++) {
    out.data.set(source.subarray((row * (P + T) + P) * h, (row + 1) * (P + T) * h), row * T * h);
  }
  return out;
}
