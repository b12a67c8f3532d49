// The recipe's config: a JSON file validated by a zod schema (every field optional; what is left
// out takes the default below, the config `pnpm start` runs in about 15 minutes on 2 cores). The
// resolved config is saved in DIR/recipe.json; a rerun with another config is refused, since the
// stages already in DIR were made with the first.
import { readFile } from "node:fs/promises";
import { PRESETS } from "@gemma-ts/core";
import { InvalidArgumentError } from "commander";
import { z } from "zod";

const positiveInt = z.number().int().positive();
const rate = z.number().positive();
const share = z.number().min(0).max(1);
const preset = z.enum(Object.keys(PRESETS) as [string, ...string[]]);

interface Shape {
  steps: number;
  batchSize: number;
  seqLen: number;
  lr: number;
}

/** A training stage's shape, each field defaulting on its own. */
const fineTuning = (defaults: Shape) => ({
  steps: positiveInt.default(defaults.steps),
  batchSize: positiveInt.default(defaults.batchSize),
  seqLen: positiveInt.default(defaults.seqLen),
  lr: rate.default(defaults.lr),
});
const pretraining = (defaults: Shape & { preset: string }) => z.strictObject({ preset: preset.default(defaults.preset), ...fineTuning(defaults) }).prefault({});

export const recipeConfigSchema = z.strictObject({
  /** Seeds the weights, the data order and every sample of the run. */
  seed: z.number().int().min(0).default(0),
  /** onnxruntime's intra-op threads; null: one per core. */
  threads: positiveInt.nullable().default(null),
  /** Pre-training text: files (.txt/.md/.jsonl/.parquet); empty: the bundled State of the Union corpus. */
  corpus: z
    .strictObject({
      files: z.array(z.string()).default([]),
      /** Keep only the first documents (null: all). */
      documents: positiveInt.nullable().default(null),
      /** Characters the student is distilled on (the teacher's store covers them) and held out. */
      studentCharacters: positiveInt.default(300_000),
      evalCharacters: positiveInt.default(200_000),
    })
    .prefault({}),
  tasks: z.strictObject({ train: positiveInt.default(12_000), eval: positiveInt.default(250), maxNewTokens: positiveInt.default(16) }).prefault({}),
  teacher: z
    .strictObject({
      pretraining: pretraining({ preset: "gemma2-7m", steps: 150, batchSize: 8, seqLen: 128, lr: 3e-3 }),
      sft: z.strictObject(fineTuning({ steps: 600, batchSize: 16, seqLen: 48, lr: 2e-3 })).prefault({}),
    })
    .prefault({}),
  student: z
    .strictObject({
      /** Distilled from the teacher's store of sampled tokens (`storeSamples` a position). */
      pretraining: pretraining({ preset: "gemma2-3m", steps: 200, batchSize: 8, seqLen: 128, lr: 3e-3 }),
      storeSamples: positiveInt.default(64),
    })
    .prefault({}),
  sft: z
    .strictObject({
      ...fineTuning({ steps: 1000, batchSize: 16, seqLen: 48, lr: 2e-3 }),
      /**
       * Behavioural cloning: the share of training prompts answered by the SFT teacher, the rest by
       * the reference answers. Small by default: at this scale the teacher is often wrong, and its
       * wrong replies are what the student then learns.
       */
      teacherShare: share.default(0.2),
    })
    .prefault({}),
  onPolicy: z.strictObject({ steps: positiveInt.default(30), batchSize: positiveInt.default(16), lr: rate.default(1e-4), lambda: share.default(1), beta: share.default(0.5) }).prefault({}),
  rewardModel: z
    .strictObject({
      prompts: positiveInt.default(3000),
      temperature: rate.default(1),
      labelNoise: share.default(0),
      epochs: positiveInt.default(1),
      batchSize: positiveInt.default(16),
      lr: rate.default(1e-4),
    })
    .prefault({}),
  rlhf: z
    .strictObject({
      /** One RLHF run a seed (WARP averages at least two). */
      seeds: z.array(z.number().int().min(0)).min(1).default([1, 2]),
      steps: positiveInt.default(50),
      k: z.number().int().min(2).default(4),
      promptsPerStep: positiveInt.default(16),
      lr: rate.default(1e-4),
      klCoef: z.number().min(0).default(0.05),
      anchorRate: share.nullable().default(0.05),
      temperature: rate.default(1),
      evalEvery: positiveInt.default(20),
      evalPrompts: positiveInt.default(100),
    })
    .prefault({}),
  /** WARP's last stage: LITI from the SFT policy towards the SLERP of the RL runs. */
  averaging: z.strictObject({ eta: share.default(1) }).prefault({}),
});

export type RecipeConfig = z.output<typeof recipeConfigSchema>;

/** The config in `file` (or the defaults), validated; an invalid one is refused naming each problem. */
export async function readRecipeConfig(file: string | undefined): Promise<RecipeConfig> {
  if (file === undefined) return recipeConfigSchema.parse({});
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, "utf8"));
  } catch (error) {
    throw new InvalidArgumentError(`${file}: ${(error as Error).message}`);
  }
  const parsed = recipeConfigSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`);
    throw new InvalidArgumentError(`${file} is not a valid recipe config: ${problems.join("; ")}`);
  }
  return parsed.data;
}
