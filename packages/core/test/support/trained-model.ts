// A small model trained briefly on the State of the Union corpus, for the tests and benchmarks
// that need weights with structure (quantization cost, greedy agreement): the preset's weights
// after `steps` AdamW steps of next-token training, batches 8 x 64.
import { type Gemma2Config, type Gemma2Params, initParams, languageModelBatch, languageModeling, tokenBatch, Trainer, train, warmupCosine } from "../../src/index.js";
import { OnnxBackend } from "../../src/node.js";

export async function trainedParams(config: Gemma2Config, tokens: Int32Array, options: { steps: number; seed: number }): Promise<Gemma2Params> {
  const shape = { batchSize: 8, sequenceLength: 64 };
  const trainer = new Trainer({
    config,
    backend: new OnnxBackend({ intraOpThreads: 2 }),
    params: initParams(config, options.seed),
    objective: languageModeling(),
    optimizer: { weightDecay: 0.01, maxGradNorm: 1 },
  });
  await train({
    trainer,
    schedule: warmupCosine({ maxLr: 3e-3, warmupSteps: 30, totalSteps: options.steps }),
    batch: (index) => languageModelBatch(tokenBatch(tokens, { ...shape, seed: options.seed }, index)),
    steps: options.steps,
  });
  const params = await trainer.read();
  await trainer.dispose();
  return params;
}
