// What `gemma-ts experiment distill` runs: a teacher, two student sizes, the variants of how the
// student learns from the teacher, and on-policy against off-policy distillation. The full plan
// fits about 45 minutes on 2 cores (the teacher about 10 of them); --quick is the same pipeline on
// a small corpus and a few steps, a smoke run the tests afford, whose figures mean nothing. The
// distilled variants use the defaults of `distill store` and `train --teacher-store`, so the
// experiment measures what a user gets.
import { DEFAULT_STORE_SELECTION } from "@gemma-ts/distill";
import { defaultKdWeight } from "../training/run-settings.js";

export interface ModelShape {
  preset: string;
  steps: number;
  batchSize: number;
  seqLen: number;
  lr: number;
}

export interface ExperimentPlan {
  name: "full" | "quick";
  teacher: ModelShape;
  /** The first is the small student, which runs every variant; the others the headline ones. */
  students: string[];
  student: Omit<ModelShape, "preset">;
  seeds: number[];
  /** Entries per token of the stores (top-k and sampled); smaller top-k read the top-k store's head. */
  storeK: number;
  topKs: number[];
  /** The KD weight of the variants that mix in the labels; each kind of teacher also runs KD alone. */
  mixedKdWeight: number;
  /** Tokens per teacher window in the stores. */
  storeWindow: number;
  studentCharacters: number;
  evalCharacters: number;
  maxDocuments: number;
  evalEvery: number;
  onPolicy: { steps: number; batchSize: number; promptTokens: number; newTokens: number; beta: number; lr: number; examples: number; evalPrompts: number };
}

export const FULL_PLAN: ExperimentPlan = {
  name: "full",
  teacher: { preset: "gemma2-7m", steps: 800, batchSize: 16, seqLen: 128, lr: 2e-3 },
  students: ["gemma2-1m", "gemma2-3m"],
  student: { steps: 300, batchSize: 8, seqLen: 128, lr: 3e-3 },
  seeds: [0, 1],
  storeK: DEFAULT_STORE_SELECTION.k,
  topKs: [1, 8, DEFAULT_STORE_SELECTION.k],
  mixedKdWeight: 0.5,
  storeWindow: 512,
  studentCharacters: 1_500_000,
  evalCharacters: 300_000,
  maxDocuments: Number.POSITIVE_INFINITY,
  evalEvery: 100,
  onPolicy: { steps: 50, batchSize: 8, promptTokens: 32, newTokens: 32, beta: 0.5, lr: 3e-4, examples: 512, evalPrompts: 64 },
};

export const QUICK_PLAN: ExperimentPlan = {
  name: "quick",
  teacher: { preset: "gemma2-3m", steps: 40, batchSize: 8, seqLen: 64, lr: 3e-3 },
  students: ["gemma2-1m"],
  student: { steps: 12, batchSize: 4, seqLen: 64, lr: 3e-3 },
  seeds: [0],
  storeK: 8,
  topKs: [1, 8],
  mixedKdWeight: 0.5,
  storeWindow: 128,
  studentCharacters: 60_000,
  evalCharacters: 20_000,
  maxDocuments: 40,
  evalEvery: 6,
  onPolicy: { steps: 4, batchSize: 4, promptTokens: 8, newTokens: 8, beta: 0.5, lr: 3e-4, examples: 16, evalPrompts: 4 },
};

/** How a student learns: from scratch, or from the teacher in one of these ways. */
export type Variant =
  | { kind: "scratch"; equalCompute: boolean }
  | { kind: "top-k"; k: number; kdWeight: number }
  | { kind: "sampled"; k: number; kdWeight: number }
  | { kind: "full"; kdWeight: number };

export function variantName(variant: Variant): string {
  switch (variant.kind) {
    case "scratch":
      return variant.equalCompute ? "scratch, equal compute" : "scratch";
    case "top-k":
      return `top-${variant.k}${variant.kdWeight === 1 ? ", KD alone" : ""}`;
    case "sampled":
      return `sampled-${variant.k}${variant.kdWeight === 1 ? ", KD alone" : ""}`;
    case "full":
      return `full${variant.kdWeight === 1 ? ", KD alone" : ""}`;
  }
}

/** A folder-safe name. */
export function variantSlug(variant: Variant): string {
  return variantName(variant)
    .replace(/, /g, "-")
    .replace(/ /g, "-")
    .toLowerCase();
}

/** The headline distilled variant: what `distill store` and `train --teacher-store` do by default. */
export function headlineVariant(plan: ExperimentPlan): Variant {
  const { mode } = DEFAULT_STORE_SELECTION;
  return { kind: mode === "top-k" ? "top-k" : "sampled", k: plan.storeK, kdWeight: defaultKdWeight(mode) };
}

/**
 * The variants each student runs, in the report's order: for the small student every one (each
 * kind of teacher target with the labels mixed in, and alone), for the others scratch (at equal
 * tokens and at equal compute) and the headline.
 */
export function studentVariants(plan: ExperimentPlan, studentIndex: number): Variant[] {
  const scratch: Variant[] = [
    { kind: "scratch", equalCompute: false },
    { kind: "scratch", equalCompute: true },
  ];
  if (studentIndex > 0) return [...scratch, headlineVariant(plan)];
  const mixed = plan.mixedKdWeight;
  return [
    ...scratch,
    ...plan.topKs.map((k): Variant => ({ kind: "top-k", k, kdWeight: mixed })),
    { kind: "top-k", k: plan.storeK, kdWeight: 1 },
    { kind: "sampled", k: plan.storeK, kdWeight: mixed },
    { kind: "sampled", k: plan.storeK, kdWeight: 1 },
    { kind: "full", kdWeight: mixed },
    { kind: "full", kdWeight: 1 },
  ];
}
