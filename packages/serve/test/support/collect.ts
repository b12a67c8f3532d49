// Reading a Completion to the end in tests: the text, the ids, the chunks, the usage, and when the
// first chunk arrived (time to first token).
import type { Completion, CompletionChunk, CompletionUsage } from "../../src/index.js";

export interface Collected {
  text: string;
  ids: number[];
  chunks: CompletionChunk[];
  finishReason: CompletionChunk["finishReason"];
  usage: CompletionUsage;
  /** Milliseconds from `start` to the first chunk. */
  firstChunkMs: number;
}

export async function collect(completion: Completion, start = performance.now()): Promise<Collected> {
  const chunks: CompletionChunk[] = [];
  let firstChunkMs = Number.NaN;
  for await (const chunk of completion.chunks) {
    if (chunks.length === 0) firstChunkMs = performance.now() - start;
    chunks.push(chunk);
  }
  return {
    text: chunks.map((chunk) => chunk.text).join(""),
    ids: chunks.flatMap((chunk) => chunk.tokenIds),
    chunks,
    finishReason: chunks.at(-1)?.finishReason,
    usage: await completion.usage,
    firstChunkMs,
  };
}
