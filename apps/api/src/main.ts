#!/usr/bin/env node
// The server as a standalone program (`node apps/api/dist/main.js --model DIR`); `gemma-ts serve`
// does the same with a progress bar. Both take their flags from serve-flags.ts.
import { CoreError } from "@gemma-ts/core";
import { ServeError } from "@gemma-ts/serve";
import { TokenizerError } from "@gemma-ts/tokenizer";
import { Command } from "commander";
import { ConfigurationError } from "./errors.js";
import { runServer } from "./run-server.js";
import { addServeFlags, serverOptionsFromFlags, type ServeFlags } from "./serve-flags.js";

const program = addServeFlags(
  new Command()
    .name("gemma-ts-api")
    .description("OpenAI-compatible server for Gemma 2 model folders")
    .option("--model <dir...>", "model folders to serve (config.json + safetensors or onnx/model.onnx + tokenizer.json), each under its folder name"),
).showHelpAfterError();

program.parse();
const options = program.opts<ServeFlags & { model?: string[] }>();

try {
  const { closed } = await runServer(serverOptionsFromFlags(options, options.model ?? []));
  await closed;
} catch (error) {
  if (error instanceof CoreError || error instanceof TokenizerError || error instanceof ServeError || error instanceof ConfigurationError || (error as NodeJS.ErrnoException).syscall) {
    process.stderr.write(`gemma-ts-api: ${(error as Error).message}\n`);
    process.exitCode = 1;
  } else {
    throw error;
  }
}
