// The training objectives of the recipe, each against finite differences of its loss through the
// whole Gemma 2 graph (float64, reference backend), and the losses against independent host
// computations: KD with every id stored is dense cross-entropy against the teacher; JSD(beta)
// equals its definition over the stored ids plus the tail, endpoints included.
import { describe, expect, it } from "vitest";
import {
  denseDistillationLoss,
  denseDistillationWithLabels,
  distillationWithLabels,
  GraphBuilder,
  generalizedJsdLoss,
  HostTensor,
  initParams,
  languageModelBatch,
  type Objective,
  onPolicyDistillation,
  policyGradient,
  preferencePairs,
  Random,
  ReferenceBackend,
  rewardModeling,
  sparseDistillation,
  sparseDistillationLoss,
  traceTrainGraph,
  VALUE_HEAD,
} from "../src/index.js";
import { finiteDifferenceFailures } from "./support/finite-difference.js";
import { tinyGradientConfig as config } from "./support/random-model.js";

const B = 2;
const T = 5;
const K = 4;
const V = config.vocabSize;
const rows = [
  [2, 5, 9, 13, 7, 40],
  [2, 33, 12, 12, 8, 19],
];
const mask = [
  [1, 1, 1, 1, 1],
  [0, 1, 1, 0, 1],
];

/** Per position, K distinct random ids with random probabilities summing to `covered`. */
function sparseTeacher(random: Random, covered: number): { ids: HostTensor; probs: HostTensor } {
  const ids: number[] = [];
  const probs: number[] = [];
  for (let p = 0; p < B * T; p++) {
    const chosen = new Set<number>();
    while (chosen.size < K) chosen.add(Math.floor(random.uniform() * V));
    const weights = Array.from({ length: K }, () => 0.1 + random.uniform());
    const total = weights.reduce((a, w) => a + w, 0);
    ids.push(...chosen);
    probs.push(...weights.map((w) => (w / total) * covered));
  }
  return { ids: HostTensor.int64([B, T, K], ids), probs: HostTensor.float32([B, T, K], probs) };
}

async function gradientFailures(objective: Objective, extra: Record<string, HostTensor>): Promise<string[]> {
  const params = initParams({ ...config, initializerRange: 0.5 }, 3);
  const random = new Random(9);
  for (const [name, tensor] of params) if (name.endsWith("norm.weight")) for (let i = 0; i < tensor.size; i++) tensor.data[i] = random.normal() * 0.3;
  const weights: Record<string, HostTensor> = Object.fromEntries(params);
  for (const spec of objective.extraParams ?? []) {
    weights[spec.name] = HostTensor.float32(spec.shape, Array.from({ length: spec.shape.reduce((a, b) => a * b, 1) }, () => random.normal() * 0.5));
  }
  const checked = ["model.embed_tokens.weight", "model.layers.0.mlp.down_proj.weight", "model.layers.1.self_attn.q_proj.weight", "model.norm.weight", ...(objective.extraParams ?? []).map((spec) => spec.name)];
  const shapes = new Map(Object.entries(weights).map(([name, tensor]) => [name, tensor.shape]));
  const graph = traceTrainGraph({ config, objective, shapes, trainable: checked });
  const batch = languageModelBatch(rows, mask);
  const reads = new Set(objective.inputs.map((spec) => spec.name));
  const inputs: Record<string, HostTensor> = { ids: batch.ids, ...extra, lossScale: HostTensor.float32([], [1]), ...weights };
  if (reads.has("mask")) inputs.mask = batch.mask;
  return finiteDifferenceFailures(graph, inputs, checked);
}

describe("objectives: gradients match finite differences through the whole model", () => {
  const teacher = sparseTeacher(new Random(4), 0.8);
  const teacherInputs = { "teacher.ids": teacher.ids, "teacher.probs": teacher.probs };

  it("sparse distillation, tail and renormalised", async () => {
    expect(await gradientFailures(sparseDistillation(K, "tail"), teacherInputs)).toEqual([]);
    expect(await gradientFailures(sparseDistillation(K, "renormalize"), teacherInputs)).toEqual([]);
  });

  it("distillation mixed with the labels' cross-entropy", async () => {
    expect(await gradientFailures(distillationWithLabels(K, 0.5), { ...teacherInputs, targets: languageModelBatch(rows).targets })).toEqual([]);
  });

  it("dense distillation (the teacher's whole distribution) mixed with the labels' cross-entropy", async () => {
    const random = new Random(5);
    const teacherLogits = HostTensor.float32([B, T, V], Array.from({ length: B * T * V }, () => random.normal() * 3));
    const targets = languageModelBatch(rows).targets;
    expect(await gradientFailures(denseDistillationWithLabels(V, 0.5), { "teacher.logits": teacherLogits, targets })).toEqual([]);
    expect(await gradientFailures(denseDistillationWithLabels(V, 1), { "teacher.logits": teacherLogits, targets })).toEqual([]);
  });

  it("on-policy distillation, JSD(beta) at 0, 0.5 and 1", async () => {
    for (const beta of [0, 0.5, 1]) expect(await gradientFailures(onPolicyDistillation(K, beta), teacherInputs)).toEqual([]);
  });

  it("reward modelling (value head, Bradley-Terry)", async () => {
    expect(await gradientFailures(rewardModeling(config.hiddenSize), { lastIndex: HostTensor.int64([B], [4, 2]), pairs: preferencePairs(B) })).toEqual([]);
  });

  it("policy gradient with the k3 KL penalty", async () => {
    const random = new Random(6);
    const values = () => HostTensor.float32([B, T], Array.from({ length: B * T }, () => random.normal()));
    const actions = languageModelBatch(rows).targets;
    const refLogprobs = HostTensor.float32([B, T], Array.from({ length: B * T }, () => -1 - 3 * random.uniform()));
    expect(await gradientFailures(policyGradient(0.2), { actions, advantages: values(), refLogprobs })).toEqual([]);
  });
});

describe("losses against host computations", () => {
  const random = new Random(12);
  const logitValues = Array.from({ length: B * T * V }, () => random.normal() * 3);
  const maskTensor = HostTensor.float32([B, T], mask.flat());
  const logSoftmax = (p: number) => {
    const row = logitValues.slice(p * V, (p + 1) * V);
    const max = Math.max(...row);
    const lse = max + Math.log(row.reduce((s, z) => s + Math.exp(z - max), 0));
    return row.map((z) => z - lse);
  };
  const maskedMean = (perPosition: (p: number) => number) => {
    let total = 0;
    let count = 0;
    mask.flat().forEach((m, p) => {
      total += m * perPosition(p);
      count += m;
    });
    return total / count;
  };
  const run = async (build: (b: GraphBuilder, logits: ReturnType<GraphBuilder["input"]>, ids: ReturnType<GraphBuilder["input"]>, probs: ReturnType<GraphBuilder["input"]>) => ReturnType<GraphBuilder["input"]>, teacher: { ids: HostTensor; probs: HostTensor }) => {
    const b = new GraphBuilder();
    const logits = b.input("logits", "float32", [B, T, V]);
    const ids = b.input("ids", "int64", teacher.ids.shape);
    const probs = b.input("probs", "float32", teacher.probs.shape);
    const graph = b.build({ loss: build(b, logits, ids, probs) });
    const out = (await new ReferenceBackend({ precision: "float64" }).compile(graph)).runFloat64({ logits: HostTensor.float32([B, T, V], logitValues), ids: teacher.ids, probs: teacher.probs, mask: maskTensor });
    return out.loss!.data[0]!;
  };

  it("KD with every id stored is cross-entropy against the dense teacher distribution, in both missing-mass modes, as is the dense loss", async () => {
    const dense: number[] = [];
    for (let p = 0; p < B * T; p++) {
      const weights = Array.from({ length: V }, () => random.uniform() ** 3);
      const total = weights.reduce((a, w) => a + w, 0);
      dense.push(...weights.map((w) => w / total));
    }
    const teacher = { ids: HostTensor.int64([B, T, V], Array.from({ length: B * T * V }, (_, i) => i % V)), probs: HostTensor.float32([B, T, V], dense) };
    const expected = maskedMean((p) => -logSoftmax(p).reduce((s, l, v) => s + Math.fround(dense[p * V + v]!) * l, 0));
    for (const missing of ["tail", "renormalize"] as const) {
      const loss = await run((b, logits, ids, probs) => sparseDistillationLoss(logits, { ids, probs }, b.input("mask", "float32", [B, T]), missing), teacher);
      expect(loss).toBeCloseTo(expected, 5);
    }
    // The dense loss reads the teacher's logits; log p is one choice of them.
    const teacherLogits = { ids: teacher.ids, probs: HostTensor.float32([B, T, V], dense.map(Math.log)) };
    const loss = await run((b, logits, _ids, probs) => denseDistillationLoss(logits, probs, b.input("mask", "float32", [B, T])), teacherLogits);
    expect(loss).toBeCloseTo(expected, 5);
  });

  it("JSD(beta) over the stored ids and the tail equals its definition; the endpoints are forward and reverse KL", async () => {
    const teacher = sparseTeacher(new Random(8), 0.7);
    const ids = Array.from(teacher.ids.data as BigInt64Array, Number);
    const probs = Array.from(teacher.probs.toFloat32().data);
    const distributions = (p: number) => {
      const logQ = logSoftmax(p);
      const q = ids.slice(p * K, (p + 1) * K).map((id) => Math.exp(logQ[id]!));
      const pk = probs.slice(p * K, (p + 1) * K);
      return { P: [...pk, 1 - pk.reduce((a, x) => a + x, 0)], Q: [...q, 1 - q.reduce((a, x) => a + x, 0)] };
    };
    const kl = (x: number[], y: number[]) => x.reduce((s, xi, i) => (xi > 0 ? s + xi * Math.log(xi / y[i]!) : s), 0);
    for (const beta of [0, 0.3, 0.9, 1]) {
      const expected = maskedMean((p) => {
        const { P, Q } = distributions(p);
        if (beta === 0) return kl(P, Q);
        if (beta === 1) return kl(Q, P);
        const M = P.map((pi, i) => beta * pi + (1 - beta) * Q[i]!);
        return beta * kl(P, M) + (1 - beta) * kl(Q, M);
      });
      const loss = await run((b, logits, idsInput, probsInput) => generalizedJsdLoss(logits, { ids: idsInput, probs: probsInput }, b.input("mask", "float32", [B, T]), beta), teacher);
      expect(loss).toBeCloseTo(expected, 5);
    }
  });

  it("the reward model's value head is a named extra weight", () => {
    expect(rewardModeling(config.hiddenSize).extraParams).toEqual([{ name: VALUE_HEAD, shape: [1, config.hiddenSize], initStd: 1 / Math.sqrt(config.hiddenSize) }]);
  });
});
