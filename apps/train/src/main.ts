// The main job on its built-in defaults: the recipe in miniature. Train a Gemma-style tokenizer
// on the bundled State of the Union corpus, pre-train the ~1M-parameter Gemma 2 preset on it for
// a couple of minutes, save the checkpoint (a Hugging Face folder with its tokenizer), sample
// from it, and print how to serve it. Later issues add distillation and post-training stages.
import { join, resolve } from "node:path";
import { Gemma2Model, generate, initParams, languageModelBatch, languageModeling, parameterCount, presetConfig, tokenBatch, Trainer, train, warmupCosine } from "@gemma-ts/core";
import { atomicWriteFile, OnnxBackend, saveHfCheckpoint, saveTrainingState } from "@gemma-ts/core/node";
import { GEMMA_SPECIAL_TOKENS, trainBpe } from "@gemma-ts/tokenizer";
import { Command } from "commander";
import { stateOfTheUnion } from "./corpus.js";
import { progressBar } from "./progress.js";

const options = new Command()
  .name("gemma-ts-train")
  .description("train a small Gemma 2 on the bundled corpus, save it, sample from it")
  .option("--out <dir>", "where the checkpoint goes", "runs/gemma2-1m")
  .option("--steps <n>", "training steps", (value) => Number.parseInt(value, 10), 600)
  .option("--seed <n>", "seed of the weights and the data order", (value) => Number.parseInt(value, 10), 0)
  .option("--threads <n>", "onnxruntime threads", (value) => Number.parseInt(value, 10), 2)
  .parse()
  .opts<{ out: string; steps: number; seed: number; threads: number }>();

const config = presetConfig("gemma2-1m");
const shape = { batchSize: 8, sequenceLength: 64 };

// 1. Data: every tenth speech held out; a Gemma-style 8k vocabulary trained on the rest.
const speeches: string[] = [];
for await (const document of stateOfTheUnion()) speeches.push(document.text);
const trainTexts = speeches.filter((_, i) => i % 10 !== 0);
const heldOutTexts = speeches.filter((_, i) => i % 10 === 0);
// Gemma's chat turn markers are special tokens, so the saved model can be served as a chat model.
const trained = await trainBpe(trainTexts, { vocabSize: config.vocabSize, specialTokens: [...GEMMA_SPECIAL_TOKENS, "<start_of_turn>", "<end_of_turn>"] });
const tokenizer = trained.toTokenizer();
const encode = (texts: string[]) => Int32Array.from(texts.flatMap((text) => Array.from(tokenizer.encode(text).ids)));
const trainTokens = encode(trainTexts);
const heldOutTokens = encode(heldOutTexts);
console.log(`corpus      ${speeches.length} speeches; ${trainTokens.length.toLocaleString("en-US")} training and ${heldOutTokens.length.toLocaleString("en-US")} held-out tokens (vocabulary ${config.vocabSize})`);

// 2. Pre-training.
console.log(`model       gemma2-1m, ${parameterCount(config).toLocaleString("en-US")} parameters; ${options.steps} steps of ${shape.batchSize} x ${shape.sequenceLength} tokens`);
const backend = new OnnxBackend({ intraOpThreads: options.threads });
const trainer = new Trainer({
  config,
  backend,
  params: initParams(config, options.seed),
  objective: languageModeling(),
  optimizer: { weightDecay: 0.01, noDecay: (name) => name.endsWith("norm.weight"), maxGradNorm: 1 },
});
const batchOf = (tokens: Int32Array, seed: number, index: number) => languageModelBatch(tokenBatch(tokens, { ...shape, seed }, index));
const heldOutLoss = async () => {
  let total = 0;
  for (let i = 0; i < 4; i++) total += (await trainer.evaluate(batchOf(heldOutTokens, 12345, i))).loss;
  return total / 4;
};
const lossBefore = await heldOutLoss();
const bar = progressBar(options.steps);
await train({
  trainer,
  schedule: warmupCosine({ maxLr: 3e-3, warmupSteps: 20, totalSteps: options.steps }),
  batch: (index) => batchOf(trainTokens, options.seed, index),
  steps: options.steps,
  log: ({ step: index, loss }) => bar.update(index + 1, { loss: loss.toFixed(3) }),
});
bar.stop();
const lossAfter = await heldOutLoss();
const { trainable: params, optimizer } = await trainer.state();
await trainer.dispose();
console.log(`held-out    loss ${lossBefore.toFixed(3)} -> ${lossAfter.toFixed(3)} (perplexity ${Math.exp(lossBefore).toFixed(0)} -> ${Math.exp(lossAfter).toFixed(0)})`);

// 3. The checkpoint: a Hugging Face folder that gemma-ts, transformers and the converters read.
const out = resolve(options.out);
await saveHfCheckpoint(out, config, params);
await atomicWriteFile(join(out, "tokenizer.json"), trained.toJsonString());
// The optimizer state too, so a later stage (or a longer run) resumes exactly where this one ended.
await saveTrainingState(out, { step: options.steps, optimizer });
console.log(`saved       ${out}`);

// 4. A sample.
const prompt = "The state of the Union";
const model = new Gemma2Model(config, params, backend);
const ids: number[] = [];
for await (const token of generate(model, Array.from(tokenizer.encode(prompt).ids), { maxNewTokens: 40, temperature: 0.8, topK: 40, seed: 1, stopTokens: [config.bosTokenId, 1] })) {
  ids.push(token.token);
}
console.log(`sample      ${JSON.stringify(prompt + tokenizer.decode(ids, { skipSpecialTokens: true }))}`);
console.log(`\nserve it:   pnpm gemma-ts serve --model ${options.out}`);
