// gemma-ts serve: the OpenAI-compatible server (@gemma-ts/serve/http) on one model folder
// (safetensors on the core's graphs, or an exported onnx/model.onnx: --backend, auto-detected by
// default), served under its folder name, or on every model folder of --model-dir. SIGTERM /
// Ctrl-C shut it down gracefully and exit 0. The flags are @gemma-ts/serve/http's, shared with
// apps/api's standalone server.
import { addServeFlags, runServer, serverOptionsFromFlags, type ServeFlags } from "@gemma-ts/serve/http";
import { Command, InvalidArgumentError } from "commander";
import { loadProgress, type LoadProgress } from "../load-progress.js";

export function serveCommand(): Command {
  const command = new Command("serve")
    .description("serve a model folder over an OpenAI-compatible HTTP API (/v1/chat/completions, /v1/completions, /v1/models)")
    .option("--model <dir>", "a model folder (config.json + safetensors or onnx/model.onnx + tokenizer.json), served under its folder name");
  return addServeFlags(command).action(async (options: ServeFlags & { model?: string }) => {
    if (options.model === undefined && options.modelDir === undefined) throw new InvalidArgumentError("give --model or --model-dir");
    const bars: LoadProgress[] = [];
    try {
      const { closed } = await runServer({
        ...serverOptionsFromFlags(options, options.model === undefined ? [] : [options.model], process.env),
        onLoadProgress: (folder) => {
          const bar = loadProgress(folder);
          bars.push(bar);
          return bar.onProgress;
        },
      });
      await closed;
    } finally {
      for (const bar of bars) bar.stop();
    }
  });
}
