// Averaging models that share an architecture, weight by weight (float64 sums, float32 results):
// the last stage of the Gemma 2 recipe, WARP (Rame et al., "WARP: On the Benefits of Weight
// Averaged Rewarded Policies", 2024, arXiv:2406.16768). Its three steps: during RL the policy is
// regularised towards an exponential moving average of itself (emaUpdate); the policies of
// several RL runs are merged by spherical interpolation of their task vectors, their differences
// from the shared initialisation (slerpTaskVectors); the merge is then moved back towards the
// initialisation, trading some reward for the initialisation's knowledge (liti: linear
// interpolation towards initialisation). linearAverage is the plain model soup.
import { type Gemma2Params, HostTensor } from "@gemma-ts/core";

export class AveragingError extends Error {
  override readonly name = "AveragingError";
}

/** Every model must have the first one's weights, by name and shape. */
function checkAligned(models: readonly Gemma2Params[]): void {
  if (models.length === 0) throw new AveragingError("no models to average");
  const [first, ...rest] = models as [Gemma2Params, ...Gemma2Params[]];
  rest.forEach((model, i) => {
    if (model.size !== first.size) throw new AveragingError(`model ${i + 1} has ${model.size} weights, model 0 ${first.size}`);
    for (const [name, tensor] of first) {
      const other = model.get(name);
      if (!other) throw new AveragingError(`model ${i + 1} lacks the weight ${name}`);
      if (other.shape.join("x") !== tensor.shape.join("x")) throw new AveragingError(`${name} is ${other.shape.join("x")} in model ${i + 1}, ${tensor.shape.join("x")} in model 0`);
    }
  });
}

/** sum_i weights[i] * models[i], weight by weight; default weights 1/n (a uniform soup). */
export function linearAverage(models: readonly Gemma2Params[], weights?: readonly number[]): Gemma2Params {
  checkAligned(models);
  const coefficients = weights ?? models.map(() => 1 / models.length);
  if (coefficients.length !== models.length) throw new AveragingError(`${coefficients.length} weights for ${models.length} models`);
  const out: Gemma2Params = new Map();
  for (const [name, tensor] of models[0]!) {
    const result = new Float32Array(tensor.size);
    for (let j = 0; j < result.length; j++) {
      let sum = 0;
      for (let i = 0; i < models.length; i++) sum += coefficients[i]! * models[i]!.get(name)!.data[j]!;
      result[j] = sum;
    }
    out.set(name, new HostTensor("float32", tensor.shape, result));
  }
  return out;
}

/** LITI: init + eta (model - init). eta 0 is the initialisation, 1 the model. */
export function liti(init: Gemma2Params, model: Gemma2Params, eta: number): Gemma2Params {
  return linearAverage([init, model], [1 - eta, eta]);
}

/** The EMA anchor's update after a policy step: anchor <- (1 - rate) anchor + rate policy. */
export function emaUpdate(anchor: Gemma2Params, policy: Gemma2Params, rate: number): Gemma2Params {
  return linearAverage([anchor, policy], [1 - rate, rate]);
}

/**
 * SLERP of two task vectors relative to `init`, weight by weight (as mergekit interpolates each
 * tensor on its own): init + sin((1-t)W)/sin(W) d1 + sin(tW)/sin(W) d2, W the angle between
 * d1 = a - init and d2 = b - init. Nearly parallel vectors (and zero ones) fall back to linear
 * interpolation, where the formula's division loses precision. t 0 is `a`, t 1 is `b`.
 */
export function slerpTaskVectors(init: Gemma2Params, a: Gemma2Params, b: Gemma2Params, t: number): Gemma2Params {
  checkAligned([init, a, b]);
  const out: Gemma2Params = new Map();
  for (const [name, base] of init) {
    const x = a.get(name)!.data;
    const y = b.get(name)!.data;
    const z = base.data;
    let dot = 0;
    let normA = 0;
    let normB = 0;
    for (let j = 0; j < z.length; j++) {
      const da = x[j]! - z[j]!;
      const db = y[j]! - z[j]!;
      dot += da * db;
      normA += da * da;
      normB += db * db;
    }
    const cosine = normA > 0 && normB > 0 ? dot / Math.sqrt(normA * normB) : 1;
    const omega = Math.acos(Math.min(1, Math.max(-1, cosine)));
    let [wa, wb] = [1 - t, t];
    if (Math.sin(omega) > 1e-6) [wa, wb] = [Math.sin((1 - t) * omega) / Math.sin(omega), Math.sin(t * omega) / Math.sin(omega)];
    const result = new Float32Array(z.length);
    for (let j = 0; j < z.length; j++) result[j] = z[j]! + wa * (x[j]! - z[j]!) + wb * (y[j]! - z[j]!);
    out.set(name, new HostTensor("float32", base.shape, result));
  }
  return out;
}

/**
 * WARP's merge of several RL runs from one initialisation: SLERP of their task vectors, folded
 * pairwise with weights that keep each run's share equal (the k-th run joins at t = 1/k), then
 * LITI towards the initialisation with `eta`.
 */
export function warpMerge(init: Gemma2Params, runs: readonly Gemma2Params[], eta: number): Gemma2Params {
  if (runs.length === 0) throw new AveragingError("no RL runs to merge");
  let merged = runs[0]!;
  for (let k = 1; k < runs.length; k++) merged = slerpTaskVectors(init, merged, runs[k]!, 1 / (k + 1));
  return liti(init, merged, eta);
}
