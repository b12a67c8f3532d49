#!/usr/bin/env node
// The server as a standalone program (`node apps/api/dist/main.js --model DIR`); `gemma-ts serve`
// does the same with a progress bar. Both take their flags from @gemma-ts/serve/http's serve flags.
import { CoreError } from "@gemma-ts/core";
import { ServeError } from "@gemma-ts/serve";
import { addServeFlags, ConfigurationError, runServer, serverOptionsFromFlags, type ServeFlags } from "@gemma-ts/serve/http";
import { TokenizerError } from "@gemma-ts/tokenizer";
import { Command } from "commander";

const program = addServeFlags(
  new Command()
    .name("gemma-ts-api")
    .description("OpenAI-compatible server for Gemma 2 model folders")
    .option("--model <dir...>", "model folders to serve (config.json + safetensors or onnx/model.onnx + tokenizer.json), each under its folder name"),
).showHelpAfterError();

program.parse();
const options = program.opts<ServeFlags & { model?: string[] }>();

try {
  const { closed } = await runServer(serverOptionsFromFlags(options, options.model ?? [], process.env));
  await closed;
} catch (error) {
  if (error instanceof CoreError || error instanceof TokenizerError || error instanceof ServeError || error instanceof ConfigurationError || (error as NodeJS.ErrnoException).syscall) {
    process.stderr.write(`gemma-ts-api: ${(error as Error).message}\n`);
    process.exitCode = 1;
  } else {
    throw error;
  }
}
