// Fine-tuning in the page: the core's Trainer (forward, backward and AdamW, all on the GPU) on
// rows drawn from the pasted text, every weight or LoRA adapters on the attention projections.
// Returns the new weights (adapters merged), for the chat to use.
import {
  type Backend,
  type Gemma2Config,
  type Gemma2Params,
  languageModelBatch,
  languageModeling,
  loraConfig,
  mergeLora,
  tokenBatch,
  Trainer,
  warmupCosine,
} from "@gemma-ts/core";
import type { Tokenizer } from "@gemma-ts/tokenizer";

export interface FineTuneOptions {
  steps: number;
  lr: number;
  batchSize: number;
  sequenceLength: number;
  mode: "full" | "lora";
  signal?: AbortSignal;
  onStep: (step: number, loss: number) => void;
}

export class FineTuneError extends Error {
  override readonly name = "FineTuneError";
}

export const LORA_RANK = 8;

export async function fineTune(backend: Backend, config: Gemma2Config, params: Gemma2Params, tokenizer: Tokenizer, text: string, options: FineTuneOptions): Promise<Gemma2Params> {
  const tokens = tokenizer.encode(text, { addSpecialTokens: false }).ids;
  if (tokens.length < options.sequenceLength + 1) {
    throw new FineTuneError(`the text is ${tokens.length} tokens; a row of the batch needs ${options.sequenceLength + 1}: paste more text or shorten the sequence`);
  }
  const lora = options.mode === "lora" ? loraConfig(LORA_RANK) : undefined;
  const trainer = new Trainer({
    config,
    backend,
    params,
    objective: languageModeling(),
    ...(lora ? { lora: { config: lora } } : {}),
    optimizer: { weightDecay: 0, noDecay: (name) => name.endsWith("norm.weight"), maxGradNorm: 1 },
    seed: 0,
  });
  try {
    const schedule = warmupCosine({ maxLr: options.lr, warmupSteps: Math.min(10, Math.ceil(options.steps / 10)), totalSteps: options.steps });
    for (let step = 0; step < options.steps && !options.signal?.aborted; step++) {
      const batch = languageModelBatch(tokenBatch(tokens, { batchSize: options.batchSize, sequenceLength: options.sequenceLength, seed: 0 }, step));
      const { loss } = await trainer.step([batch], schedule(step));
      options.onStep(step, loss);
    }
    const { trainable } = await trainer.state();
    return lora ? mergeLora(config, lora, params, trainable) : new Map([...params, ...trainable]);
  } finally {
    await trainer.dispose();
  }
}
