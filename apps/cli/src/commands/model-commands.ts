// Model commands of the gemma-ts binary: info, init, logits, convert. Each parses its flags and
// calls @gemma-ts/core; output is JSON on stdout (or a file), for scripts and parity checks.
import { createWriteStream } from "node:fs";
import { dequantizeMatrix, Gemma2Model, parameterCount, presetConfig, initParams, PRESETS, QUANT_BITS, type Gemma2Config, type QuantType } from "@gemma-ts/core";
import { quantizeFlag } from "@gemma-ts/serve/http";
import { exportOnnxFolder, saveHfCheckpoint, writeGguf, type GgufDType } from "@gemma-ts/core/node";
import { Command, InvalidArgumentError, Option } from "commander";
import { loadModelConfig, loadModelFiles, readTokenizerFiles } from "../model-files.js";
import { ggufVocabularyFrom } from "../gguf-vocabulary.js";
import { graphBackend, graphBackendOption, type GraphBackendName } from "../graph-backend.js";

const integer = (name: string) => (value: string) => {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0) throw new InvalidArgumentError(`${name} must be a non-negative integer`);
  return parsed;
};

function describeModel(config: Gemma2Config) {
  return { config, parameterCount: parameterCount(config) };
}

export function infoCommand(): Command {
  return new Command("info")
    .description("print a model's config and parameter count as JSON")
    .addOption(new Option("--model <path>", "a Hugging Face folder or a .gguf file").conflicts("preset"))
    .addOption(new Option("--preset <name>", "a built-in configuration").choices(Object.keys(PRESETS)))
    .action(async (options: { model?: string; preset?: string }) => {
      if (!options.model && !options.preset) throw new InvalidArgumentError("give --model or --preset");
      const config = options.preset ? presetConfig(options.preset) : await loadModelConfig(options.model!);
      process.stdout.write(`${JSON.stringify(describeModel(config), null, 2)}\n`);
    });
}

export function initCommand(): Command {
  return new Command("init")
    .description("write a randomly initialised checkpoint folder (config.json + model.safetensors)")
    .addOption(new Option("--preset <name>", "a built-in configuration").choices(Object.keys(PRESETS)).makeOptionMandatory())
    .requiredOption("--out <dir>", "the folder to write")
    .option("--seed <n>", "initialisation seed", integer("--seed"), 0)
    .action(async (options: { preset: string; out: string; seed: number }) => {
      const config = presetConfig(options.preset);
      await saveHfCheckpoint(options.out, config, initParams(config, options.seed));
      process.stdout.write(`${JSON.stringify({ out: options.out, ...describeModel(config) }, null, 2)}\n`);
    });
}

export function logitsCommand(): Command {
  return new Command("logits")
    .description("print the logits of every position for raw token ids, as JSON rows (no <bos> is added)")
    .requiredOption("--model <path>", "a Hugging Face folder or a .gguf file")
    .requiredOption("--ids <list>", "comma-separated token ids, e.g. 2,651,6037", parseIds)
    .option("--out <file>", "write the JSON here instead of stdout")
    .option("--threads <n>", "onnxruntime intra-op threads", integer("--threads"))
    .option("--quantize <type>", "quantize the weights first: q8 or q4 (llama.cpp's Q8_0 / Q4_0 rounding); a GGUF's Q8_0 / Q4_0 matrices run as stored without it", quantizeFlag)
    .addOption(graphBackendOption().default("core"))
    .action(async (options: { model: string; ids: number[]; out?: string; threads?: number; quantize?: QuantType; backend: GraphBackendName }) => {
      const { config, params, quantized } = await loadModelFiles(options.model, { keepQuantized: true });
      const stored = quantized.values().next().value;
      if (stored && options.quantize && QUANT_BITS[options.quantize] !== stored.bits) {
        // Another width than the file's: quantize again from the stored values.
        for (const [name, matrix] of quantized) params.set(name, dequantizeMatrix(matrix));
        quantized.clear();
      }
      const backend = await graphBackend(options.backend, options.threads);
      const model = new Gemma2Model(config, params, backend, {
        ...(options.quantize ? { quantize: options.quantize } : {}),
        ...(quantized.size > 0 ? { quantized } : {}),
      });
      const logits = await model.forward([options.ids]);
      await model.dispose();
      const output = options.out ? createWriteStream(options.out) : process.stdout;
      // Row by row: a 256k vocabulary makes each row megabytes of JSON.
      output.write("[\n");
      options.ids.forEach((_, position) => {
        const row = logits.data.subarray(position * config.vocabSize, (position + 1) * config.vocabSize);
        output.write(`${JSON.stringify(Array.from(row))}${position + 1 < options.ids.length ? "," : ""}\n`);
      });
      output.write("]\n");
      if (output !== process.stdout) await new Promise<void>((resolve, reject) => (output as ReturnType<typeof createWriteStream>).end((error?: Error | null) => (error ? reject(error) : resolve())));
    });
}

export function convertCommand(): Command {
  return new Command("convert")
    .description("convert a Hugging Face folder to a GGUF file that llama.cpp loads (--to), or to an ONNX folder that transformers.js loads (--to-onnx)")
    .requiredOption("--from <dir>", "a Hugging Face folder (config.json + safetensors; tokenizer.json used if present)")
    .addOption(new Option("--to <file>", "the .gguf file to write").conflicts("toOnnx"))
    .option("--to-onnx <dir>", "write an ONNX folder in Optimum's layout (onnx/model.onnx with a KV cache, config.json, generation_config.json, tokenizer files copied)")
    .addOption(new Option("--dtype <dtype>", "storage of the weight matrices (GGUF only)").choices(["f32", "f16", "q8_0", "q4_0"]).default("f16"))
    .addOption(new Option("--quantize <type>", "the same as --dtype q8_0 or q4_0 (as --quantize elsewhere: q8 or q4)").argParser(quantizeFlag).conflicts("dtype"))
    .action(async (options: { from: string; to?: string; toOnnx?: string; dtype: GgufDType; quantize?: QuantType }, command: Command) => {
      if (options.quantize !== undefined) options.dtype = QUANTIZED_DTYPE[options.quantize];
      if (options.toOnnx !== undefined) {
        // The ONNX graph computes in float32 and stores its weights so; a storage dtype would be silently ignored.
        if (command.getOptionValueSource("dtype") === "cli" || options.quantize !== undefined) throw new InvalidArgumentError("--dtype and --quantize apply to --to (GGUF); --to-onnx writes float32");
        const { config, params } = await loadModelFiles(options.from);
        const tokenizerFiles = await readTokenizerFiles(options.from);
        const result = await exportOnnxFolder(options.toOnnx, config, params, tokenizerFiles ? { tokenizerFiles } : {});
        process.stdout.write(`${JSON.stringify({ out: options.toOnnx, files: result.files, modelBytes: result.modelBytes, ...describeModel(config) }, null, 2)}\n`);
        return;
      }
      if (options.to === undefined) throw new InvalidArgumentError("give --to <file.gguf> or --to-onnx <dir>");
      if (!options.to.endsWith(".gguf")) throw new InvalidArgumentError("--to must name a .gguf file");
      const { config, params } = await loadModelFiles(options.from);
      const vocabulary = await ggufVocabularyFrom(options.from, config.vocabSize);
      await writeGguf(options.to, config, params, { dtype: options.dtype, ...vocabulary });
      process.stdout.write(`${JSON.stringify({ out: options.to, dtype: options.dtype, tokenizer: vocabulary.vocabulary ? "tokenizer.json" : "placeholder", ...describeModel(config) }, null, 2)}\n`);
    });
}

const QUANTIZED_DTYPE: Readonly<Record<QuantType, GgufDType>> = { q8: "q8_0", q4: "q4_0" };

function parseIds(value: string): number[] {
  const ids = value.split(",").map((part) => Number(part.trim()));
  if (ids.length === 0 || ids.some((id) => !Number.isInteger(id) || id < 0)) {
    throw new InvalidArgumentError("--ids must be comma-separated non-negative integers");
  }
  return ids;
}
