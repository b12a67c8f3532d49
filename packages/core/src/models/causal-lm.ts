// CausalLM: what generation and serving need of a language model, whatever runs it: the config,
// `forward(ids, cache) -> logits` with KVCache semantics, and dispose. Gemma2Model (the core's
// traced graphs) and OnnxFolderModel (an exported ONNX folder on onnxruntime-node) implement it,
// so the engine, generate() and the API server can run either.
import type { HostTensor } from "../tensor/host-tensor.js";
import type { Gemma2Config } from "./gemma2/config.js";
import type { KVCache } from "./gemma2/kv-cache.js";

export interface CausalLM {
  readonly config: Gemma2Config;
  /**
   * Logits of every new position, float32 [B, T, vocab]. ids: B rows of T token ids. Without a
   * cache the positions are 0..T-1; with one, each row continues from its own length and the cache
   * is extended. Rows not `active` are computed but leave the cache untouched.
   */
  forward(ids: readonly (readonly number[])[], cache?: KVCache, options?: { active?: ArrayLike<boolean> }): Promise<HostTensor<"float32">>;
  /** Releases what the model holds (sessions, compiled graphs). */
  dispose(): Promise<void>;
}
