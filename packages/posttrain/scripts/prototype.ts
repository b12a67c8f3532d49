// Prototype of the post-training stages on a pre-trained base: SFT -> RM -> RLOO, printing true reward.
import { Gemma2Model, languageModeling, Random, Trainer, warmupCosine } from "@gemma-ts/core";
import { loadHfCheckpoint, OnnxBackend } from "@gemma-ts/core/node";
import { loadTokenizer } from "@gemma-ts/tokenizer/node";
import { evaluateTasks, RewardModel, RlooTrainer, samplePreferencePairs, sftBatch, taskChat, taskPromptIds, taskSplit, trueReward } from "../src/index.js";

const base = process.argv[2]!;
const sftSteps = Number(process.env.SFT_STEPS ?? 300);
const rlSteps = Number(process.env.RL_STEPS ?? 60);
const backend = new OnnxBackend({ intraOpThreads: 2 });
const tokenizer = await loadTokenizer(`${base}/tokenizer.json`);
const { config, params } = await loadHfCheckpoint(base);
const { train, eval: evalTasks } = taskSplit({ seed: 0, train: 4000, eval: 100 });
const t0 = performance.now();
const say = (line: string) => console.log(`[${((performance.now() - t0) / 1000).toFixed(0)}s] ${line}`);
const evaluate = async (weights: typeof params, name: string) => {
  const model = new Gemma2Model(config, weights, backend);
  const result = await evaluateTasks(model, tokenizer, evalTasks, { maxNewTokens: 16, batchSize: 25 });
  await model.dispose();
  say(`${name}: true reward ${result.trueReward.toFixed(3)} ${JSON.stringify(Object.fromEntries(Object.entries(result.byKind).map(([k, v]) => [k, v!.toFixed(2)])))}; e.g. ${JSON.stringify(result.replies.slice(0, 3).map((r) => r.reply))}`);
  return result.trueReward;
};
await evaluate(params, "base");

// SFT
const sft = new Trainer({ config, backend, params, objective: languageModeling(), optimizer: { weightDecay: 0, noDecay: () => true, maxGradNorm: 1 } });
const schedule = warmupCosine({ maxLr: Number(process.env.SFT_LR ?? 1e-3), minLr: 1e-4, warmupSteps: 20, totalSteps: sftSteps });
const random = new Random(1);
for (let step = 0; step < sftSteps; step++) {
  const chats = Array.from({ length: 32 }, () => taskChat(train[Math.floor(random.uniform() * train.length)]!));
  const { batch } = sftBatch(tokenizer, chats, config.padTokenId);
  const { loss } = await sft.step([batch], schedule(step));
  if ((step + 1) % 50 === 0) say(`sft step ${step + 1} loss ${loss.toFixed(3)}`);
}
const sftParams = new Map(params);
for (const [n, t] of await sft.read()) sftParams.set(n, t);
await sft.dispose();
await evaluate(sftParams, "sft");

// RM
const policy = new Gemma2Model(config, sftParams, backend);
const { pairs, ties } = await samplePreferencePairs(policy, tokenizer, train.slice(0, Number(process.env.PAIR_PROMPTS ?? 1500)), { maxNewTokens: 16, temperature: 1, seed: 3, batchSize: 32 });
await policy.dispose();
say(`pairs ${pairs.length} (ties ${ties})`);
const heldOut = pairs.slice(0, 100);
const rmTrain = pairs.slice(100);
const rm = new RewardModel({ config, params: sftParams, backend, trainable: true, seed: 1, optimizer: { weightDecay: 0 } });
say(`rm acc before ${(await rm.accuracy(heldOut)).toFixed(3)}`);
const rmSteps = Number(process.env.RM_STEPS ?? 200);
for (let step = 0; step < rmSteps; step++) {
  const chunk = Array.from({ length: 16 }, () => rmTrain[Math.floor(random.uniform() * rmTrain.length)]!);
  const { loss, accuracy } = await rm.train(chunk, Number(process.env.RM_LR ?? 3e-4) * Math.min(1, (step + 1) / 10));
  if ((step + 1) % 50 === 0) say(`rm step ${step + 1} loss ${loss.toFixed(3)} acc ${accuracy.toFixed(2)} held-out ${(await rm.accuracy(heldOut)).toFixed(3)}`);
}

// RLOO
const prompts = train.map((task) => taskPromptIds(tokenizer, task));
const rloo = new RlooTrainer({
  config,
  params: sftParams,
  backend,
  prompts,
  k: 4,
  promptsPerStep: 8,
  maxNewTokens: 16,
  klCoef: Number(process.env.KL ?? 0.05),
  stopTokens: [tokenizer.special.endOfTurn!, tokenizer.special.eos!],
  seed: 5,
  reward: async (samples) => rm.score(samples.map((s) => [...prompts[s.prompt]!, ...s.completion])),
});
const rlLr = Number(process.env.RL_LR ?? 1e-4);
for (let step = 0; step < rlSteps; step++) {
  const record = await rloo.train(rlLr);
  if ((step + 1) % 10 === 0) {
    say(`rl step ${step + 1} rm ${record.reward.toFixed(3)} kl ${record.kl.toFixed(4)} loss ${record.loss.toFixed(3)}`);
  }
  if ((step + 1) % 30 === 0) await evaluate(await rloo.params(), `rl ${step + 1}`);
}
void trueReward;
