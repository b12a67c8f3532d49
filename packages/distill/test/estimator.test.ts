// The sparse targets themselves, on known distributions: top-k picks the k largest (ties by smaller
// id) with exact log-probs and the residual mass; sample mode's counts-based weights are unbiased
// for the full distribution (the mean over many independent draws approaches it, and so the sparse
// KD loss approaches the full-distribution loss), where a renormalized top-k target is not.
import { describe, expect, it } from "vitest";
import { Random } from "@gemma-ts/core";
import { emptyScores, Sparsifier } from "../src/index.js";
import { logSoftmax } from "./support/fixtures.js";

function randomLogits(V: number, seed: number, scale = 2): Float32Array {
  const random = new Random(seed);
  return Float32Array.from({ length: V }, () => random.normal() * scale);
}

describe("top-k", () => {
  it("the k largest, best first, ties by smaller id, exact log-probs and residual", () => {
    const logits = Float32Array.from([0.5, 3, -1, 3, 2, 0.5, 3, -7, 2, 0]);
    const k = 5;
    const sparsifier = new Sparsifier(logits.length, { mode: "top-k", k, temperature: 1, seed: 0 });
    const out = emptyScores(1, k);
    sparsifier.reduce(logits, 0, out, 0);
    expect(Array.from(out.ids)).toEqual([1, 3, 6, 4, 8]);
    const exact = logSoftmax(logits);
    out.ids.forEach((id, j) => expect(out.logprobs[j]).toBeCloseTo(exact[id]!, 6));
    const covered = [1, 3, 6, 4, 8].reduce((sum, id) => sum + Math.exp(exact[id]!), 0);
    expect(out.residual[0]).toBeCloseTo(1 - covered, 6);
  });

  it("agrees with a full sort on random rows, at any k", () => {
    for (const [V, k, seed] of [[50, 1, 1], [50, 7, 2], [257, 64, 3], [40, 40, 4]] as const) {
      const logits = randomLogits(V, seed);
      const sparsifier = new Sparsifier(V, { mode: "top-k", k, temperature: 0.7, seed: 0 });
      const out = emptyScores(1, k);
      sparsifier.reduce(logits, 0, out, 0);
      const order = Array.from({ length: V }, (_, i) => i).sort((a, b) => logits[b]! - logits[a]! || a - b);
      expect(Array.from(out.ids)).toEqual(order.slice(0, k));
      if (k === V) expect(out.residual[0]).toBeLessThan(1e-6);
    }
  });
});

describe("sample mode's estimator", () => {
  const V = 12;
  const k = 8;
  const draws = 6000;
  const logits = randomLogits(V, 7, 1.2);
  const p = Array.from(logSoftmax(logits, 1), Math.exp);

  /** The mean over `draws` positions (independent streams) of the scattered sparse target. */
  function meanTarget(mode: "top-k" | "sample", kk: number): Float64Array {
    const sparsifier = new Sparsifier(V, { mode, k: kk, temperature: 1, seed: 3 });
    const out = emptyScores(1, kk);
    const mean = new Float64Array(V);
    for (let position = 0; position < draws; position++) {
      sparsifier.reduce(logits, position, out, 0);
      let total = 0;
      for (let j = 0; j < kk; j++) total += Math.exp(out.logprobs[j]!);
      // Renormalized, as the student reads a sample target (its weights already sum to 1).
      for (let j = 0; j < kk; j++) mean[out.ids[j]!]! += Math.exp(out.logprobs[j]!) / total / draws;
    }
    return mean;
  }

  it("the mean of the sparse targets approaches the full distribution (within 5 standard errors)", () => {
    const mean = meanTarget("sample", k);
    for (let x = 0; x < V; x++) {
      const standardError = Math.sqrt((p[x]! * (1 - p[x]!)) / (draws * k));
      expect(Math.abs(mean[x]! - p[x]!), `id ${x}: p ${p[x]}`).toBeLessThan(5 * standardError + 1e-9);
    }
    // The sparse KD loss -sum P^ log q is then unbiased for the full -sum P log q, for any student q.
    const logQ = logSoftmax(randomLogits(V, 99));
    const full = -p.reduce((sum, px, x) => sum + px * logQ[x]!, 0);
    const sparse = -Array.from(mean).reduce((sum, px, x) => sum + px * logQ[x]!, 0);
    expect(Math.abs(sparse - full) / full).toBeLessThan(0.01);
  });

  it("a renormalized top-k target of the same size is biased: it drops the tail", () => {
    const mean = meanTarget("top-k", 4);
    const order = p.map((px, x) => [px, x] as const).sort((a, b) => b[0] - a[0]);
    const tailId = order[V - 1]![1];
    expect(mean[tailId]).toBe(0);
    const headId = order[0]![1];
    expect(mean[headId]! - p[headId]!).toBeGreaterThan(0.02);
  });

  it("draws depend on (seed, position) only", () => {
    const a = new Sparsifier(V, { mode: "sample", k, temperature: 1, seed: 3 });
    const b = new Sparsifier(V, { mode: "sample", k, temperature: 1, seed: 3 });
    const c = new Sparsifier(V, { mode: "sample", k, temperature: 1, seed: 4 });
    const outA = emptyScores(2, k);
    const outB = emptyScores(2, k);
    const outC = emptyScores(2, k);
    a.reduce(logits, 41, outA, 0);
    a.reduce(logits, 42, outA, 1);
    b.reduce(logits, 42, outB, 1);
    b.reduce(logits, 41, outB, 0);
    expect(outB).toEqual(outA);
    c.reduce(logits, 41, outC, 0);
    c.reduce(logits, 42, outC, 1);
    expect(Array.from(outC.ids)).not.toEqual(Array.from(outA.ids));
  });
});
