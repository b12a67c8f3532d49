// The main job (`pnpm start`): the Gemma 2 recipe end to end on its default config, about 15
// minutes on 2 cores. A tokenizer and a teacher pre-trained on the bundled State of the Union
// corpus, a student distilled from it, then post-training on a task family whose answers a
// program checks (SFT and behavioural cloning, on-policy distillation, a reward model, two RLHF
// runs, WARP averaging), each stage judged by the true reward on held-out prompts. Ends with the
// table of stages, report.html, and the command that serves the final model. A rerun continues
// where an interrupted one stopped.
import { resolve } from "node:path";
import { readRecipeConfig, recipeSummary, runRecipe } from "@gemma-ts/cli";
import { Command } from "commander";

const options = new Command()
  .name("gemma-ts-train")
  .description("run the Gemma 2 recipe end to end: teacher, distilled student, SFT, on-policy distillation, reward model, RLHF, WARP averaging")
  .option("--out <dir>", "the recipe's folder (a rerun continues it)", "runs/recipe")
  .option("--config <file>", "a JSON recipe config (every field optional; see docs/post-training.md)")
  .parse()
  .opts<{ out: string; config?: string }>();

const out = resolve(options.out);
const report = await runRecipe({ out, config: await readRecipeConfig(options.config === undefined ? undefined : resolve(options.config)), log: (line) => process.stdout.write(`${line}\n`) });
process.stdout.write(recipeSummary(report, options.out));
