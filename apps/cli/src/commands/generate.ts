// gemma-ts generate: one completion of a raw prompt (<bos> + the text, no chat template),
// streamed to stdout as the engine produces it, ending with a newline. Ctrl-C stops it cleanly.
import { once } from "node:events";
import { completionPromptIds } from "@gemma-ts/serve";
import { closeServedModel } from "@gemma-ts/serve/http";
import { Command } from "commander";
import { openModel } from "../open-model.js";
import { samplingOf, withSamplingFlags, type SamplingFlags } from "../sampling-flags.js";

export function generateCommand(): Command {
  return withSamplingFlags(
    new Command("generate")
      .description("complete a prompt with a model folder (config.json + safetensors + tokenizer.json), streaming to stdout")
      .requiredOption("--model <dir>", "a Hugging Face model folder holding tokenizer.json")
      .requiredOption("--prompt <text>", "the text to continue"),
  ).action(async (options: SamplingFlags & { model: string; prompt: string }) => {
    const model = await openModel(options.model, options);
    const controller = new AbortController();
    const interrupt = () => controller.abort();
    process.once("SIGINT", interrupt);
    try {
      const { chunks } = model.engine.complete({
        promptIds: completionPromptIds(model.tokenizer, options.prompt),
        maxTokens: options.maxTokens,
        sampling: samplingOf(options),
        ...(options.stop.length > 0 ? { stop: options.stop } : {}),
        signal: controller.signal,
      });
      try {
        for await (const chunk of chunks) {
          if (!process.stdout.write(chunk.text)) await once(process.stdout, "drain");
        }
      } catch (error) {
        if (!controller.signal.aborted) throw error;
      }
      process.stdout.write("\n");
    } finally {
      process.off("SIGINT", interrupt);
      await closeServedModel(model);
    }
  });
}
