// gemma-ts eval's work: a model (optionally with a LoRA adapter) scored on every target token of
// some files. The files are tokenized into temporary shards and read in one ordered pass, as a
// training run's evaluations read their data, so the two report the same numbers for the same
// model, files and shape.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { languageModeling, Trainer } from "@gemma-ts/core";
import { loadHfCheckpoint, loadLoraAdapter, OnnxBackend } from "@gemma-ts/core/node";
import { BatchSource, openTokenShards, type TextUnit, writeTokenShards } from "@gemma-ts/data";
import { loadTokenizer } from "@gemma-ts/tokenizer/node";
import { InvalidArgumentError } from "commander";
import { type Evaluation, evaluateOrdered } from "./evaluate-pass.js";
import { exists, TOKENIZER_FILE } from "./run-folder.js";

export interface EvaluateFilesOptions {
  model: string;
  data: readonly string[];
  tokenizer: string | undefined;
  adapter: string | undefined;
  seqLen: number | undefined;
  batchSize: number;
  textUnit: TextUnit;
  threads: number | undefined;
}

const DEFAULT_SEQ_LEN = 256;

export async function evaluateFiles(options: EvaluateFilesOptions): Promise<Evaluation> {
  const tokenizerPath = options.tokenizer ?? join(options.model, TOKENIZER_FILE);
  if (options.tokenizer === undefined && !(await exists(tokenizerPath))) throw new InvalidArgumentError(`${options.model} has no ${TOKENIZER_FILE}; give --tokenizer`);
  const tokenizer = await loadTokenizer(tokenizerPath);
  const { config, params } = await loadHfCheckpoint(options.model);
  if (tokenizer.vocabSize > config.vocabSize) throw new InvalidArgumentError(`the tokenizer has ${tokenizer.vocabSize} tokens, more than the model's vocabulary of ${config.vocabSize}`);
  const seqLen = options.seqLen ?? Math.min(DEFAULT_SEQ_LEN, config.maxPositionEmbeddings);
  if (seqLen > config.maxPositionEmbeddings) throw new InvalidArgumentError(`--seq-len ${seqLen} is longer than the model's ${config.maxPositionEmbeddings} positions`);
  const adapter = options.adapter === undefined ? undefined : await loadLoraAdapter(options.adapter, config);

  const dir = await mkdtemp(join(tmpdir(), "gemma-ts-eval-"));
  let trainer: Trainer | undefined;
  try {
    await writeTokenShards({ inputs: options.data, tokenizer, outDir: dir, textUnit: options.textUnit });
    const shards = await openTokenShards(dir, { tokenizer });
    try {
      trainer = new Trainer({
        config,
        backend: new OnnxBackend(options.threads === undefined ? {} : { intraOpThreads: options.threads }),
        params,
        objective: languageModeling(),
        // Nothing trains: an evaluation-only trainer (adapters, when given, sit on the frozen base).
        trainable: () => false,
        ...(adapter ? { lora: { config: adapter.lora, adapters: adapter.adapters } } : {}),
      });
      return await evaluateOrdered(trainer, new BatchSource(shards, { batchSize: options.batchSize, sequenceLength: seqLen, seed: 0 }));
    } finally {
      await shards.close();
    }
  } finally {
    await trainer?.dispose();
    await rm(dir, { recursive: true, force: true });
  }
}
