// The tokenizer files of an exported folder. transformers.js loads a tokenizer only where
// tokenizer_config.json exists (get_tokenizer_files.js), so when the caller gives tokenizer.json
// alone, a Gemma-style tokenizer_config.json is written (GemmaTokenizer, as Gemma 2's own), naming
// the special tokens that the model config's ids point at in tokenizer.json.
import { InvalidArgumentError } from "../../errors.js";
import type { Gemma2Config } from "../../models/gemma2/config.js";

export interface TokenizerFiles {
  /** The tokenizer.json text or bytes, written unchanged. */
  tokenizerJson: string | Uint8Array;
  /**
   * tokenizer_config.json: an object (written as JSON), or the file's text or bytes, written
   * unchanged (a JSON round trip would turn Gemma's model_max_length 1e30 integer into 1e+30).
   * Derived from tokenizer.json and the config when absent.
   */
  tokenizerConfig?: object | string | Uint8Array;
}

interface TokenizerJsonShape {
  added_tokens?: { id?: unknown; content?: unknown }[];
  model?: { vocab?: unknown; unk_token?: unknown };
}

/** File name -> contents, after checking that every token id of tokenizer.json exists in the model. */
export function tokenizerFolderFiles(files: TokenizerFiles, config: Gemma2Config): Map<string, string | Uint8Array> {
  const json = parseJson(files.tokenizerJson, "tokenizerFiles.tokenizerJson") as TokenizerJsonShape;
  const tokens = tokensById(json);
  let largest = -1;
  for (const id of tokens.keys()) largest = Math.max(largest, id);
  // An id past the embedding would make Gather fail at run time, far from the cause.
  if (largest >= config.vocabSize) {
    throw new InvalidArgumentError("tokenizerFiles.tokenizerJson", `has token id ${largest}, but the model's vocabulary has ${config.vocabSize} entries`);
  }
  let tokenizerConfig: string | Uint8Array;
  if (typeof files.tokenizerConfig === "string" || files.tokenizerConfig instanceof Uint8Array) {
    parseJson(files.tokenizerConfig, "tokenizerFiles.tokenizerConfig");
    tokenizerConfig = files.tokenizerConfig;
  } else {
    tokenizerConfig = `${JSON.stringify(files.tokenizerConfig ?? defaultTokenizerConfig(config, tokens, json), null, 2)}\n`;
  }
  return new Map<string, string | Uint8Array>([
    ["tokenizer.json", files.tokenizerJson],
    ["tokenizer_config.json", tokenizerConfig],
  ]);
}

/** A JSON object from text or UTF-8 bytes; anything else is the caller's mistake. */
function parseJson(data: string | Uint8Array, argument: string): object {
  let value: unknown;
  try {
    value = JSON.parse(typeof data === "string" ? data : new TextDecoder().decode(data));
  } catch (error) {
    throw new InvalidArgumentError(argument, `not valid JSON (${(error as Error).message})`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new InvalidArgumentError(argument, "expected a JSON object");
  return value;
}

function tokensById(json: TokenizerJsonShape): Map<number, string> {
  const tokens = new Map<number, string>();
  const vocab = json.model?.vocab;
  if (vocab && typeof vocab === "object" && !Array.isArray(vocab)) {
    for (const [token, id] of Object.entries(vocab)) if (typeof id === "number") tokens.set(id, token);
  } else if (Array.isArray(vocab)) {
    // Unigram vocabularies are [piece, score] pairs in id order.
    vocab.forEach((entry, id) => {
      if (Array.isArray(entry) && typeof entry[0] === "string") tokens.set(id, entry[0]);
    });
  } else {
    throw new InvalidArgumentError("tokenizerFiles.tokenizerJson", "has no model.vocab");
  }
  for (const added of json.added_tokens ?? []) {
    if (typeof added.id === "number" && typeof added.content === "string") tokens.set(added.id, added.content);
  }
  return tokens;
}

/**
 * Gemma 2's tokenizer_config.json fields, except padding_side: "left" here (Gemma ships "right"),
 * because an ONNX export is run for generation, and batched generation needs the prompts' ends aligned.
 */
function defaultTokenizerConfig(config: Gemma2Config, tokens: Map<number, string>, json: TokenizerJsonShape): Record<string, unknown> {
  const eosId = Array.isArray(config.eosTokenId) ? config.eosTokenId[0] : config.eosTokenId;
  const unk = json.model?.unk_token;
  return {
    add_bos_token: true,
    add_eos_token: false,
    bos_token: tokens.get(config.bosTokenId) ?? "<bos>",
    eos_token: (eosId === undefined ? undefined : tokens.get(eosId as number)) ?? "<eos>",
    pad_token: tokens.get(config.padTokenId) ?? "<pad>",
    unk_token: typeof unk === "string" ? unk : "<unk>",
    clean_up_tokenization_spaces: false,
    legacy: false,
    model_max_length: config.maxPositionEmbeddings,
    padding_side: "left",
    spaces_between_special_tokens: false,
    tokenizer_class: "GemmaTokenizer",
  };
}
