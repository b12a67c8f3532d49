// The trainer beyond plain pre-training: LoRA adapters on a frozen base (only the adapters move;
// saved in PEFT's layout; merged into the base, the model computes what base + adapter did),
// gradient accumulation (two micro-batches step like one batch of both), and a reward model that
// learns a toy preference.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  Gemma2Model,
  HostTensor,
  initParams,
  languageModelBatch,
  languageModeling,
  loraConfig,
  mergeLora,
  preferencePairs,
  presetConfig,
  Random,
  rewardModeling,
  tokenBatch,
  Trainer,
  train,
} from "../src/index.js";
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, loadHfCheckpoint, loadLoraAdapter, OnnxBackend, readSafetensors, saveHfCheckpoint, saveLoraAdapter } from "../src/node.js";

const config = { ...presetConfig("gemma2-tiny"), vocabSize: 256 };
const tokens = Int32Array.from({ length: 4000 }, (_, i) => (i * 31 + (i >> 3)) % 256);
const batchAt = (step: number) => languageModelBatch(tokenBatch(tokens, { batchSize: 4, sequenceLength: 16, seed: 3 }, step));
const backend = () => new OnnxBackend({ intraOpThreads: 1 });

describe("LoRA", () => {
  it("trains only the adapters, saves them in PEFT's layout, and merges into a base that computes what base + adapter did", async () => {
    const base = initParams(config, 1);
    const lora = loraConfig(4, { alpha: 8, targetModules: ["q_proj", "v_proj", "down_proj"] });
    const trainer = new Trainer({ config, backend: backend(), params: base, objective: languageModeling(), lora: { config: lora }, seed: 2 });
    expect(trainer.trainableNames).toHaveLength(config.numHiddenLayers * 3 * 2);
    expect(trainer.trainableNames.every((name) => /\.lora_[AB]\.weight$/.test(name))).toBe(true);
    const losses = await train({ trainer, schedule: () => 1e-2, batch: batchAt, steps: 8 });
    expect(losses.at(-1)!).toBeLessThan(losses[0]!);

    // The base is bitwise what it was; the adapters moved (B starts at zero).
    const baseNames = [...base.keys()];
    const after = await trainer.read(baseNames);
    for (const name of baseNames) expect(after.get(name)!.data, name).toEqual(base.get(name)!.data);
    const adapters = await trainer.read();
    expect(adapters.get("model.layers.0.self_attn.q_proj.lora_B.weight")!.data.some((v) => v !== 0)).toBe(true);

    const folder = await mkdtemp(join(tmpdir(), "gemma-ts-lora-"));
    try {
      await saveLoraAdapter(join(folder, "adapter"), lora, adapters, { baseModel: "gemma2-tiny" });
      const peftConfig = JSON.parse(await readFile(join(folder, "adapter", ADAPTER_CONFIG_FILE), "utf8"));
      expect(peftConfig).toMatchObject({ peft_type: "LORA", r: 4, lora_alpha: 8, target_modules: ["q_proj", "v_proj", "down_proj"], task_type: "CAUSAL_LM", bias: "none" });
      const stored = await readSafetensors(join(folder, "adapter", ADAPTER_WEIGHTS_FILE));
      expect(stored.get("base_model.model.model.layers.1.mlp.down_proj.lora_A.weight")!.shape).toEqual([4, config.intermediateSize]);
      expect(stored.get("base_model.model.model.layers.1.mlp.down_proj.lora_B.weight")!.shape).toEqual([config.hiddenSize, 4]);
      const reloaded = await loadLoraAdapter(join(folder, "adapter"), config);
      expect(reloaded.lora).toEqual(lora);

      // Merged folder vs base + adapter: the per-token log-probs of a batch agree.
      await saveHfCheckpoint(join(folder, "merged"), config, mergeLora(config, lora, base, reloaded.adapters));
      const merged = await loadHfCheckpoint(join(folder, "merged"));
      const batch = batchAt(100);
      const withAdapter = (await trainer.evaluate(batch)).report.logprobs!.toFloat32().data;
      const model = new Gemma2Model(config, merged.params, backend());
      const logits = (await model.forward(Array.from({ length: 4 }, (_, b) => Array.from(batch.ids.data as BigInt64Array, Number).slice(b * 16, (b + 1) * 16)))).data;
      const targets = Array.from(batch.targets.data as BigInt64Array, Number);
      let worst = 0;
      targets.forEach((target, p) => {
        const row = logits.subarray(p * config.vocabSize, (p + 1) * config.vocabSize);
        const max = Math.max(...row);
        const lse = max + Math.log(row.reduce((s, z) => s + Math.exp(z - max), 0));
        worst = Math.max(worst, Math.abs(row[target]! - lse - withAdapter[p]!));
      });
      expect(worst).toBeLessThan(1e-4);
      // And it is not the base's: the adapter changed the model.
      const baseTrainer = new Trainer({ config, backend: backend(), params: base, objective: languageModeling() });
      const baseLogprobs = (await baseTrainer.evaluate(batch)).report.logprobs!.toFloat32().data;
      expect(Math.max(...baseLogprobs.map((v, i) => Math.abs(v - withAdapter[i]!)))).toBeGreaterThan(1e-3);
      await Promise.all([model.dispose(), baseTrainer.dispose()]);
    } finally {
      await rm(folder, { recursive: true, force: true });
      await trainer.dispose();
    }
  });
});

describe("gradient accumulation", () => {
  it("two micro-batches step like one batch holding both", async () => {
    const rows = tokenBatch(tokens, { batchSize: 4, sequenceLength: 16, seed: 5 }, 0);
    const whole = new Trainer({ config, backend: backend(), params: initParams(config, 1), objective: languageModeling() });
    const split = new Trainer({ config, backend: backend(), params: initParams(config, 1), objective: languageModeling() });
    const a = await whole.step([languageModelBatch(rows)], 1e-2);
    const b = await split.step([languageModelBatch(rows.slice(0, 2)), languageModelBatch(rows.slice(2))], 1e-2);
    expect(b.loss).toBeCloseTo(a.loss, 5);
    expect(b.gradNorm).toBeCloseTo(a.gradNorm, 4);
    const [wa, wb] = [await whole.read(), await split.read()];
    let worst = 0;
    for (const [name, tensor] of wa) tensor.data.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - wb.get(name)!.data[i]!))));
    expect(worst).toBeLessThan(1e-5);
    await Promise.all([whole.dispose(), split.dispose()]);
  });
});

describe("batch checks", () => {
  it("refuses token ids outside the vocabulary before the backend reads out of bounds", async () => {
    const trainer = new Trainer({ config, backend: backend(), params: initParams(config, 1), objective: languageModeling() });
    const rows = tokenBatch(tokens, { batchSize: 2, sequenceLength: 8, seed: 1 }, 0);
    rows[1]![3] = config.vocabSize;
    await expect(trainer.step([languageModelBatch(rows)], 1e-3)).rejects.toThrow(/batch\.ids.*256 is outside \[0, 256\)/);
    rows[1]![3] = 5;
    rows[0]![8] = -1;
    await expect(trainer.evaluate(languageModelBatch(rows))).rejects.toThrow(/batch\.targets.*-1 is outside/);
    await trainer.dispose();
  });
});

describe("reward modelling", () => {
  it("learns a toy preference (responses ending in a 'good' token) to over 95% held-out pair accuracy", async () => {
    const small = { ...config, vocabSize: 64 };
    const random = new Random(11);
    const T = 8;
    // Each pair shares a random prompt; the chosen response ends in a token of 10..19, the rejected in 20..29.
    const pairBatch = (pairs: number) => {
      const ids: number[] = [];
      for (let p = 0; p < pairs; p++) {
        const prefix = Array.from({ length: T - 1 }, () => 30 + Math.floor(random.uniform() * 30));
        ids.push(...prefix, 10 + Math.floor(random.uniform() * 10), ...prefix, 20 + Math.floor(random.uniform() * 10));
      }
      return { ids: HostTensor.int64([2 * pairs, T], ids), lastIndex: HostTensor.int64([2 * pairs], new Array(2 * pairs).fill(T - 1)), pairs: preferencePairs(2 * pairs) };
    };
    const trainer = new Trainer({ config: small, backend: backend(), params: initParams(small, 3), objective: rewardModeling(small.hiddenSize), seed: 4 });
    const batches = Array.from({ length: 40 }, () => pairBatch(8));
    await train({ trainer, schedule: () => 3e-3, batch: (step) => batches[step]!, steps: 40 });
    const heldOut = pairBatch(100);
    const rewards = (await trainer.evaluate(heldOut)).report.rewards!.toFloat32().data;
    let correct = 0;
    for (let p = 0; p < 100; p++) if (rewards[2 * p]! > rewards[2 * p + 1]!) correct++;
    expect(correct).toBeGreaterThan(95);
    await trainer.dispose();
  });
});
