// Where models come from on the command line: a Hugging Face folder (config.json +
// safetensors) or a GGUF file, told apart by the path; and the tokenizer files beside a folder's
// weights. Every command reads each kind of file through the same core reader (readHfConfig,
// loadHfCheckpoint, readGgufConfig, readGguf), so they fail alike; errors stay typed for main.ts.
import { readFile, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Gemma2Config, Gemma2Params, QuantizedMatrix } from "@gemma-ts/core";
import { loadHfCheckpoint, readGguf, readGgufConfig, readGgufQuantized, readHfConfig, readJsonFile, type TokenizerFiles } from "@gemma-ts/core/node";
import { tokenizerFromJson } from "@gemma-ts/tokenizer";

export interface ModelFiles {
  config: Gemma2Config;
  /** float32 weights; without the matrices in `quantized`, when there are any. */
  params: Gemma2Params;
  /** With keepQuantized, a GGUF's Q8_0 / Q4_0 matrices as stored (for Gemma2Model's `quantized`); else empty. */
  quantized: Map<string, QuantizedMatrix>;
}

/**
 * The weights of a Hugging Face folder or a GGUF file. A GGUF's Q8_0 / Q4_0 matrices are
 * dequantized to float32, unless `keepQuantized` (to run them, not to convert them).
 */
export async function loadModelFiles(path: string, options: { keepQuantized?: boolean } = {}): Promise<ModelFiles> {
  if (path.endsWith(".gguf")) return options.keepQuantized ? readGgufQuantized(path) : { ...(await readGguf(path)), quantized: new Map() };
  return { ...(await loadHfCheckpoint(path)), quantized: new Map() };
}

/** The config alone, without reading weights: a GGUF's header, or the config.json of a folder (or of a file's folder). */
export async function loadModelConfig(path: string): Promise<Gemma2Config> {
  if (path.endsWith(".gguf")) return (await readGgufConfig(path)).config;
  return readHfConfig((await stat(path)).isDirectory() ? path : dirname(path));
}

/** tokenizer.json and tokenizer_config.json of a Hugging Face folder, as bytes to copy; undefined without tokenizer.json (or for a GGUF file). */
export async function readTokenizerFiles(path: string): Promise<TokenizerFiles | undefined> {
  if (path.endsWith(".gguf")) return undefined;
  const read = async (name: string): Promise<Uint8Array | undefined> => {
    try {
      return await readFile(join(path, name));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw error;
    }
  };
  const tokenizerJson = await read("tokenizer.json");
  if (tokenizerJson === undefined) return undefined;
  // Parsed as generate, chat and serve parse them, so a broken file is refused, not copied along.
  tokenizerFromJson(tokenizerJson);
  const tokenizerConfig = await read("tokenizer_config.json");
  if (tokenizerConfig !== undefined) await readJsonFile(join(path, "tokenizer_config.json"));
  return tokenizerConfig === undefined ? { tokenizerJson } : { tokenizerJson, tokenizerConfig };
}
