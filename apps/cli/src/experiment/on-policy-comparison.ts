// On-policy against off-policy distillation, at equal steps, from the same distilled student: GKD
// with lambda 0 trains on the teacher's scores of the data's own continuations of the prompts,
// with lambda 1 on its scores of the student's samples. Each is judged on held-out prompts by the
// divergence (JSD(beta)) from the teacher over the student's own samples, what on-policy training
// lowers, and by held-out perplexity, which off-policy training optimises more directly.
import { copyFile, readFile } from "node:fs/promises";
import { join } from "node:path";
import { Random } from "@gemma-ts/core";
import { atomicWriteFile, loadHfCheckpoint, OnnxBackend, saveHfCheckpoint } from "@gemma-ts/core/node";
import { readDocuments } from "@gemma-ts/data";
import { LocalTeacher, type OnPolicyExample, OnPolicyDistiller } from "@gemma-ts/distill";
import type { Tokenizer } from "@gemma-ts/tokenizer";
import { loadTokenizer } from "@gemma-ts/tokenizer/node";
import { evaluateFiles } from "../training/evaluate-files.js";
import { exists, TOKENIZER_FILE } from "../training/run-folder.js";
import type { ExperimentPlan } from "./experiment-plan.js";
import { RUN_RESULT_FILE } from "./experiment-runs.js";

export interface OnPolicyVariantResult {
  name: string;
  lambda: number;
  dir: string;
  perplexity: number;
  divergence: number;
}

export interface OnPolicyComparison {
  seed: number;
  /** The distilled student both variants start from. */
  start: { dir: string; perplexity: number; divergence: number };
  variants: OnPolicyVariantResult[];
}

export interface OnPolicyComparisonOptions {
  plan: ExperimentPlan;
  seed: number;
  /** The distilled student (a Hugging Face folder) and its held-out perplexity. */
  start: { dir: string; perplexity: number };
  teacher: string;
  data: { student: string; eval: string };
  out: string;
  threads: number | null;
  log: (line: string) => void;
}

const VARIANTS = [
  { name: "off-policy (lambda 0)", lambda: 0 },
  { name: "on-policy (lambda 1)", lambda: 1 },
];

export async function compareOnPolicy(options: OnPolicyComparisonOptions): Promise<OnPolicyComparison> {
  const { plan, seed } = options;
  const settings = plan.onPolicy;
  const resultFile = join(options.out, RUN_RESULT_FILE);
  if (await exists(resultFile)) return JSON.parse(await readFile(resultFile, "utf8")) as OnPolicyComparison;

  const tokenizer = await loadTokenizer(join(options.teacher, TOKENIZER_FILE));
  const random = new Random(seed + 77);
  const examples = await windows(options.data.student, tokenizer, settings.examples, settings.promptTokens, settings.newTokens, random);
  const evalPrompts = (await windows(options.data.eval, tokenizer, settings.evalPrompts, settings.promptTokens, 1, random)).map((example) => example.prompt);
  const { config, params } = await loadHfCheckpoint(options.start.dir);
  const backend = new OnnxBackend(options.threads === null ? {} : { intraOpThreads: options.threads });
  const teacher = await LocalTeacher.fromFolder(options.teacher, { tokenizer, ...(options.threads === null ? {} : { threads: options.threads }) });
  const distiller = (lambda: number) =>
    new OnPolicyDistiller({
      config,
      params,
      backend,
      teacher,
      examples,
      batchSize: settings.batchSize,
      maxNewTokens: settings.newTokens,
      k: plan.storeK,
      beta: settings.beta,
      lambda,
      seed,
      stopTokens: tokenizer.special.eos !== undefined ? [tokenizer.special.eos] : [config.eosTokenId].flat(),
    });
  // The same held-out prompts and sampling seeds before and after.
  const divergenceSeed = 12_345;
  try {
    const before = distiller(0);
    const startDivergence = (await before.divergence(evalPrompts, divergenceSeed)).divergence;
    await before.close();
    const variants: OnPolicyVariantResult[] = [];
    for (const variant of VARIANTS) {
      const dir = join(options.out, `lambda-${variant.lambda}`);
      const run = distiller(variant.lambda);
      try {
        for (let step = 0; step < settings.steps; step++) {
          const record = await run.train(settings.lr);
          if ((step + 1) % 10 === 0 || step + 1 === settings.steps) options.log(`  ${variant.name}: step ${step + 1}/${settings.steps}, JSD ${record.loss.toFixed(4)}`);
        }
        const divergence = (await run.divergence(evalPrompts, divergenceSeed)).divergence;
        await saveHfCheckpoint(dir, config, await run.params());
        await copyFile(join(options.teacher, TOKENIZER_FILE), join(dir, TOKENIZER_FILE));
        const evaluation = await evaluateFiles({
          model: dir,
          data: [options.data.eval],
          tokenizer: undefined,
          adapter: undefined,
          seqLen: plan.student.seqLen,
          batchSize: plan.student.batchSize,
          textUnit: "file",
          threads: options.threads ?? undefined,
        });
        variants.push({ ...variant, dir, perplexity: evaluation.perplexity, divergence });
        options.log(`  ${variant.name}: held-out perplexity ${evaluation.perplexity.toFixed(2)}, JSD on held-out prompts ${startDivergence.toFixed(4)} -> ${divergence.toFixed(4)}`);
      } finally {
        await run.close();
      }
    }
    const comparison: OnPolicyComparison = { seed, start: { ...options.start, divergence: startDivergence }, variants };
    await atomicWriteFile(resultFile, `${JSON.stringify(comparison, null, 2)}\n`);
    return comparison;
  } finally {
    await teacher.close();
  }
}

/** `count` random windows of the file's documents: a prompt of `promptTokens` ids (from the document's start or anywhere) and the data's next `responseTokens`. */
async function windows(path: string, tokenizer: Tokenizer, count: number, promptTokens: number, responseTokens: number, random: Random): Promise<OnPolicyExample[]> {
  const documents: Int32Array[] = [];
  for await (const document of readDocuments(path)) {
    if ("text" in document) {
      const { ids } = tokenizer.encode(document.text);
      if (ids.length >= promptTokens + responseTokens) documents.push(ids);
    }
  }
  if (documents.length === 0) throw new Error(`${path} has no document of ${promptTokens + responseTokens} tokens`);
  return Array.from({ length: count }, () => {
    const ids = documents[Math.floor(random.uniform() * documents.length)]!;
    const from = Math.floor(random.uniform() * (ids.length - promptTokens - responseTokens + 1));
    return { prompt: Array.from(ids.subarray(from, from + promptTokens)), response: Array.from(ids.subarray(from + promptTokens, from + promptTokens + responseTokens)) };
  });
}
