// The `gemma-ts` command. Each subcommand lives in commands/ and only parses its flags and
// wires streams to the packages; the work happens in the libraries. Errors end here: whatever a
// command throws (a typed library error, a bad flag, a file system error, or a bug) prints one line
// naming the problem and exits 1; the stack only with --verbose or DEBUG set.
import { Command } from "commander";
import { averageCommand } from "./commands/average.js";
import { chatCommand } from "./commands/chat.js";
import { distillCommand } from "./commands/distill.js";
import { generateCommand } from "./commands/generate.js";
import { convertCommand, infoCommand, initCommand, logitsCommand } from "./commands/model-commands.js";
import { serveCommand } from "./commands/serve.js";
import { tokenizeCommand } from "./commands/tokenize.js";
import { trainCommand } from "./commands/train.js";
import { evalCommand } from "./commands/eval.js";
import { experimentCommand } from "./commands/experiment.js";
import { recipeCommand } from "./commands/recipe.js";
import { rewardCommand, trainRewardCommand } from "./commands/reward.js";
import { rlhfCommand } from "./commands/rlhf.js";
import { sftCommand } from "./commands/sft.js";
import { errorReport, oneLine } from "./error-report.js";

// Read before parsing: the flag must also cover errors commander itself raises.
const verbose = process.argv.includes("--verbose") || (process.env.DEBUG ?? "") !== "";

const report = (error: unknown): void => {
  process.stderr.write(errorReport(error, verbose));
  process.exitCode = 1;
};
// Errors outside the command's own promise chain (a stream's 'error' event, say) end the same way.
process.on("uncaughtException", (error) => {
  report(error);
  process.exit(1);
});
process.on("unhandledRejection", (error) => {
  report(error);
  process.exit(1);
});

const program = new Command()
  .name("gemma-ts")
  .description("Gemma 2 in TypeScript: tokenizer, model, training and serving")
  .option("--verbose", "on an error, print its stack too (as does setting DEBUG)");

program.addCommand(tokenizeCommand());
program.addCommand(infoCommand());
program.addCommand(initCommand());
program.addCommand(logitsCommand());
program.addCommand(convertCommand());
program.addCommand(generateCommand());
program.addCommand(chatCommand());
program.addCommand(serveCommand());
program.addCommand(trainCommand());
program.addCommand(evalCommand());
program.addCommand(distillCommand());
program.addCommand(experimentCommand());
program.addCommand(averageCommand());
program.addCommand(sftCommand());
program.addCommand(trainRewardCommand());
program.addCommand(rewardCommand());
program.addCommand(rlhfCommand());
program.addCommand(recipeCommand());

// Commander's own usage errors (unknown or missing flags) in the same one-line form.
for (const command of [program, ...program.commands]) {
  command.configureOutput({ outputError: (text, write) => write(`gemma-ts: ${oneLine(text.replace(/^error: /, ""))} (see --help)\n`) });
}

try {
  await program.parseAsync(process.argv);
} catch (error) {
  report(error);
}
