// gemma-ts recipe: the whole Gemma 2 recipe from one command (recipe/recipe.ts): teacher, distilled
// student, SFT and behavioural cloning, on-policy distillation, reward model, RLHF runs, WARP
// averaging and the evaluation, into --out; a rerun skips finished stages and resumes the rest.
import { resolve } from "node:path";
import { Command } from "commander";
import { readRecipeConfig } from "../recipe/recipe-config.js";
import { runRecipe } from "../recipe/recipe.js";

export function recipeCommand(): Command {
  return new Command("recipe")
    .description("run the post-training recipe end to end (teacher, distilled student, SFT, on-policy distillation, reward model, RLHF, WARP averaging, evaluation); writes report.json and report.html into --out")
    .requiredOption("--out <dir>", "the recipe's folder; a rerun continues it")
    .option("--config <file>", "a JSON config (every field optional; see docs/post-training.md); default: the ~15-minute config")
    .action(async (flags: { out: string; config?: string }) => {
      const out = resolve(flags.out);
      const report = await runRecipe({ out, config: await readRecipeConfig(flags.config === undefined ? undefined : resolve(flags.config)), log: (line) => process.stdout.write(`${line}\n`) });
      const width = Math.max(...report.stages.map((stage) => stage.name.length));
      process.stdout.write(`\n${"stage".padEnd(width)}  true reward  reward model  held-out ppl\n`);
      for (const stage of report.stages) {
        process.stdout.write(`${stage.name.padEnd(width)}  ${stage.true_reward.toFixed(3).padStart(11)}  ${stage.rm_score.toFixed(3).padStart(12)}  ${stage.held_out_perplexity.toFixed(1).padStart(12)}\n`);
      }
      const accuracy = report.reward_model.held_out_accuracy;
      process.stdout.write(`\nreward model: ${Number.isFinite(accuracy) ? `${(accuracy * 100).toFixed(1)}%` : "no"} accuracy on ${report.reward_model.held_out_pairs} held-out pairs\n`);
      process.stdout.write(`report: ${resolve(out, "report.html")}\nserve the final model: pnpm gemma-ts serve --model ${resolve(out, "averaged")}\n`);
    });
}
