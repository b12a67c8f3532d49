// The `gemma-ts` command. Each subcommand lives in commands/ and only parses its flags and
// wires streams to the packages; the work happens in the libraries. Errors end here: a typed
// library error or a bad input prints one line naming the problem and exits 1, no stack trace.
import { CoreError } from "@gemma-ts/core";
import { ServeError } from "@gemma-ts/serve";
import { ConfigurationError } from "@gemma-ts/serve/http";
import { TokenizerError } from "@gemma-ts/tokenizer";
import { Command, InvalidArgumentError } from "commander";
import { chatCommand } from "./commands/chat.js";
import { generateCommand } from "./commands/generate.js";
import { convertCommand, infoCommand, initCommand, logitsCommand } from "./commands/model-commands.js";
import { serveCommand } from "./commands/serve.js";
import { tokenizeCommand } from "./commands/tokenize.js";

const program = new Command()
  .name("gemma-ts")
  .description("Gemma 2 in TypeScript: tokenizer, model, training and serving")
  .showHelpAfterError();

program.addCommand(tokenizeCommand());
program.addCommand(infoCommand());
program.addCommand(initCommand());
program.addCommand(logitsCommand());
program.addCommand(convertCommand());
program.addCommand(generateCommand());
program.addCommand(chatCommand());
program.addCommand(serveCommand());

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (
    error instanceof TokenizerError ||
    error instanceof CoreError ||
    error instanceof ServeError ||
    error instanceof ConfigurationError ||
    error instanceof InvalidArgumentError ||
    isFileSystemError(error)
  ) {
    process.stderr.write(`gemma-ts: ${(error as Error).message}\n`);
    process.exitCode = 1;
  } else {
    throw error;
  }
}

function isFileSystemError(error: unknown): boolean {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).code === "string" && "syscall" in error;
}
