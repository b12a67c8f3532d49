// The run's inputs as token shards (@gemma-ts/data), tokenized once into a folder of the run, and
// the data package's batches as the trainer's inputs. A resumed run reuses the shards when their
// index names the same inputs and the run's tokenizer; otherwise (a kill mid-tokenization leaves no
// index) they are written again, which gives the same shards from the same inputs.
import { HostTensor, type TrainBatch } from "@gemma-ts/core";
import { type Batch, INDEX_FILE, openTokenShards, type TextUnit, type TokenShards, TokenizerMismatchError, writeTokenShards } from "@gemma-ts/data";
import type { Tokenizer } from "@gemma-ts/tokenizer";
import { join } from "node:path";
import { exists } from "./run-folder.js";

export interface ShardOptions {
  dir: string;
  inputs: readonly string[];
  tokenizer: Tokenizer;
  textUnit: TextUnit;
  /** Reuse shards already in `dir` that match. */
  reuse: boolean;
  log: (line: string) => void;
}

export async function tokenShards(options: ShardOptions): Promise<TokenShards> {
  const { dir, inputs, tokenizer } = options;
  if (options.reuse && (await exists(join(dir, INDEX_FILE)))) {
    const shards = await openTokenShards(dir, { tokenizer }).catch((error: unknown) => {
      if (error instanceof TokenizerMismatchError) return undefined;
      throw error;
    });
    if (shards && JSON.stringify(shards.index.sources.map((source) => source.name)) === JSON.stringify(inputs)) return shards;
    await shards?.close();
  }
  const index = await writeTokenShards({ inputs, tokenizer, outDir: dir, textUnit: options.textUnit });
  options.log(`tokenized ${index.documents.toLocaleString("en-US")} documents, ${index.tokens.toLocaleString("en-US")} tokens into ${dir}`);
  return openTokenShards(dir, { tokenizer });
}

/** A language-modelling batch: inputs are each row's first T ids, targets its last T, the mask the data's. */
export function trainBatch(batch: Batch): TrainBatch {
  const { batchSize: B, sequenceLength: T, ids, lossMask } = batch;
  const inputs = new BigInt64Array(B * T);
  const targets = new BigInt64Array(B * T);
  const mask = new Float32Array(B * T);
  for (let r = 0; r < B; r++) {
    for (let t = 0; t < T; t++) {
      inputs[r * T + t] = BigInt(ids[r * (T + 1) + t]!);
      targets[r * T + t] = BigInt(ids[r * (T + 1) + t + 1]!);
      mask[r * T + t] = lossMask[r * T + t]!;
    }
  }
  return {
    ids: new HostTensor("int64", [B, T], inputs),
    targets: new HostTensor("int64", [B, T], targets),
    mask: new HostTensor("float32", [B, T], mask),
  };
}
