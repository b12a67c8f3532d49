// What the server needs of a model: an engine that follows @gemma-ts/serve's contract, the
// tokenizer that renders prompts, and the context length that bounds a request. Structural, so
// the server takes the package's Engine or anything else that keeps the same promises.
import type { Tokenizer } from "@gemma-ts/tokenizer";
import type { CompletionChunk, CompletionRequest, CompletionUsage, EngineStats } from "../types.js";

export interface ServingEngine {
  complete(request: CompletionRequest): { chunks: AsyncIterable<CompletionChunk>; usage: Promise<CompletionUsage> };
  stats(): EngineStats;
  close(): Promise<void> | void;
}

export interface ServedModel {
  /** The name clients send as `model` (a folder name for models loaded from a directory). */
  id: string;
  engine: ServingEngine;
  tokenizer: Tokenizer;
  /** Prompt plus completion tokens a request may hold. */
  contextLength: number;
  /** Unix seconds, for /v1/models. */
  created: number;
  /**
   * Releases everything the model holds (the engine, then the model's onnxruntime sessions).
   * Without it, closing means closing the engine. The registry calls it for models it loaded.
   */
  close?(): Promise<void>;
}

/** Closes a model the way it asks to be closed. */
export async function closeServedModel(model: ServedModel): Promise<void> {
  if (model.close) await model.close();
  else await model.engine.close();
}
