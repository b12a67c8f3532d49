// gemma-ts recipe: the whole Gemma 2 recipe from one command (recipe/recipe.ts): teacher, distilled
// student, SFT and behavioural cloning, on-policy distillation, reward model, RLHF runs, WARP
// averaging and the evaluation, into --out; a rerun skips finished stages and resumes the rest.
import { resolve } from "node:path";
import { Command } from "commander";
import { readRecipeConfig } from "../recipe/recipe-config.js";
import { runRecipe } from "../recipe/recipe.js";
import { recipeSummary } from "../recipe/recipe-report.js";

export function recipeCommand(): Command {
  return new Command("recipe")
    .description("run the post-training recipe end to end (teacher, distilled student, SFT, on-policy distillation, reward model, RLHF, WARP averaging, evaluation); writes report.json and report.html into --out")
    .requiredOption("--out <dir>", "the recipe's folder; a rerun continues it")
    .option("--config <file>", "a JSON config (every field optional; see docs/post-training.md); default: the ~15-minute config")
    .action(async (flags: { out: string; config?: string }) => {
      const out = resolve(flags.out);
      const report = await runRecipe({ out, config: await readRecipeConfig(flags.config === undefined ? undefined : resolve(flags.config)), log: (line) => process.stdout.write(`${line}\n`) });
      process.stdout.write(recipeSummary(report, out));
    });
}
