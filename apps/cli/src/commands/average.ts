// gemma-ts average: one model from several of the same architecture (Hugging Face folders), weight
// by weight, as the last stage of the Gemma 2 recipe averages its RL runs (WARP). Methods:
//   linear  a weighted soup of the models (--weights, default uniform)
//   slerp   spherical interpolation at --t of two models' task vectors relative to --base
//   liti    --base moved towards one model by --eta (0: the base, 1: the model)
//   warp    SLERP of the models' task vectors relative to --base, then LITI at --eta
// A model may also be a LoRA adapter folder (PEFT's adapter_config.json + adapter_model.safetensors)
// trained on --base: it is merged into the base first, so adapters average by their weight deltas
// (B A), not factor by factor. The tokenizer.json of the first model (or of the base) is copied
// beside the result.
import { copyFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { Gemma2Config, Gemma2Params } from "@gemma-ts/core";
import { mergeLora } from "@gemma-ts/core";
import { ADAPTER_CONFIG_FILE, CONFIG_FILE, loadHfCheckpoint, loadLoraAdapter, saveHfCheckpoint } from "@gemma-ts/core/node";
import { AveragingError, linearAverage, liti, slerpTaskVectors, warpMerge } from "@gemma-ts/posttrain";
import { Command, InvalidArgumentError, Option } from "commander";
import { unitInterval } from "../training/flag-values.js";
import { exists, TOKENIZER_FILE } from "../training/run-folder.js";

const METHODS = ["linear", "slerp", "liti", "warp"] as const;
type Method = (typeof METHODS)[number];

interface AverageFlags {
  models: string[];
  out: string;
  method: Method;
  weights?: number[];
  base?: string;
  t: number;
  eta: number;
}

export function averageCommand(): Command {
  return new Command("average")
    .description("average models of one architecture weight by weight: a linear soup, SLERP of task vectors, LITI towards a base, or WARP's merge")
    .requiredOption("--models <dirs...>", "Hugging Face folders of the same architecture, or LoRA adapter folders trained on --base")
    .requiredOption("--out <dir>", "the averaged model's folder")
    .addOption(new Option("--method <method>", "how to average").choices(METHODS).default("linear"))
    .option("--weights <list>", "linear: comma-separated weights, one per model (default uniform)", weightList)
    .option("--base <dir>", "slerp, liti, warp: the initialisation the task vectors are taken from; with adapters: the model they adapt")
    .option("--t <t>", "slerp: 0 is the first model, 1 the second", unitInterval("--t"), 0.5)
    .option("--eta <eta>", "liti, warp: how far from the base towards the merge (0: the base)", unitInterval("--eta"), 0.5)
    .action(async (flags: AverageFlags) => {
      const folders = flags.models.map((dir) => resolve(dir));
      const adapters = await Promise.all(folders.map(async (dir) => (await exists(join(dir, ADAPTER_CONFIG_FILE))) && !(await exists(join(dir, CONFIG_FILE)))));
      const needsBase = flags.method !== "linear" || adapters.some(Boolean);
      if (needsBase && flags.base === undefined) {
        throw new InvalidArgumentError(flags.method === "linear" ? "LoRA adapters need --base, the model they were trained on" : `--method ${flags.method} needs --base, the initialisation the models were trained from`);
      }
      if (!needsBase && flags.base !== undefined) throw new InvalidArgumentError("--base is for --method slerp, liti or warp, or for adapters");
      if (flags.method === "slerp" && flags.models.length !== 2) throw new InvalidArgumentError(`--method slerp takes 2 --models, got ${flags.models.length}`);
      if (flags.method === "liti" && flags.models.length !== 1) throw new InvalidArgumentError(`--method liti takes 1 --models, got ${flags.models.length}`);
      if (flags.weights !== undefined && (flags.method !== "linear" || flags.weights.length !== flags.models.length)) {
        throw new InvalidArgumentError(`--weights gives one weight per model of --method linear (${flags.models.length} models, ${flags.weights.length} weights)`);
      }
      const baseDir = flags.base === undefined ? undefined : resolve(flags.base);
      const baseModel = baseDir === undefined ? undefined : await loadHfCheckpoint(baseDir);
      const full = await Promise.all(folders.filter((_, i) => !adapters[i]).map((dir) => loadHfCheckpoint(dir)));
      const config = sameConfig([...full.map((model) => model.config), ...(baseModel ? [baseModel.config] : [])], [...folders.filter((_, i) => !adapters[i]), ...(baseDir ? [baseDir] : [])]);
      let nextFull = 0;
      const models: Gemma2Params[] = [];
      for (const [i, dir] of folders.entries()) {
        if (!adapters[i]) models.push(full[nextFull++]!.params);
        else {
          const { lora, adapters: weights } = await loadLoraAdapter(dir, config);
          models.push(mergeLora(config, lora, baseModel!.params, weights));
        }
      }
      // The base is the initialisation of slerp, liti and warp; for a linear soup of adapters it was only what they adapt.
      const base = flags.method === "linear" ? undefined : baseModel!.params;
      let averaged: Gemma2Params;
      try {
        averaged = average(flags, models, base);
      } catch (error) {
        if (error instanceof AveragingError) throw new InvalidArgumentError(error.message);
        throw error;
      }
      const out = resolve(flags.out);
      await saveHfCheckpoint(out, config, averaged);
      const tokenizer = [folders[0]!, ...(baseDir ? [baseDir] : [])].map((dir) => join(dir, TOKENIZER_FILE));
      for (const file of tokenizer) {
        if (!(await exists(file))) continue;
        await copyFile(file, join(out, TOKENIZER_FILE));
        break;
      }
      process.stdout.write(`${flags.method} average of ${folders.length} model${folders.length === 1 ? "" : "s"} written to ${out}\n`);
    });
}

function average(flags: AverageFlags, models: Gemma2Params[], base: Gemma2Params | undefined): Gemma2Params {
  switch (flags.method) {
    case "linear":
      return linearAverage(models, flags.weights);
    case "slerp":
      return slerpTaskVectors(base!, models[0]!, models[1]!, flags.t);
    case "liti":
      return liti(base!, models[0]!, flags.eta);
    case "warp":
      return warpMerge(base!, models, flags.eta);
  }
}

/** One architecture for every folder, or a one-line refusal naming the first that differs. */
function sameConfig(configs: Gemma2Config[], folders: string[]): Gemma2Config {
  const first = JSON.stringify(configs[0]);
  const other = configs.findIndex((config) => JSON.stringify(config) !== first);
  if (other !== -1) throw new InvalidArgumentError(`${folders[other]} has another architecture (config.json) than ${folders[0]}; only models of one architecture average`);
  return configs[0]!;
}

function weightList(value: string): number[] {
  const weights = value.split(",").map((part) => Number(part.trim()));
  if (weights.some((weight) => !Number.isFinite(weight))) throw new InvalidArgumentError(`--weights must be comma-separated numbers, got '${value}'`);
  return weights;
}
