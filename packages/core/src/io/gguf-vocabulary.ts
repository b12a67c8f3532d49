// The SentencePiece ("llama") tokenizer metadata llama.cpp needs to load a gemma2 GGUF: pieces,
// scores, token types and special ids (docs/gemma2.md section 4.3). Without a real vocabulary we
// synthesise one llama.cpp accepts (specials, the 256 byte pieces, then "tok{i}"), which is enough
// when the model is fed raw ids, as the llama.cpp parity tests do.
import { InvalidArgumentError, InvalidConfigError } from "../errors.js";
import type { Gemma2Config } from "../models/gemma2/config.js";
import type { GgufEntry } from "./gguf-format.js";

/** llama.cpp's llama_token_type (gguf-py TokenType). */
export const TOKEN_TYPES = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;

export interface GgufVocabulary {
  /** One piece per id, exactly config.vocabSize of them; '▁' (U+2581) marks a space as in SentencePiece. */
  tokens: readonly string[];
  /** SentencePiece scores; default 0. */
  scores?: ArrayLike<number>;
  /** TOKEN_TYPES values; by default the specials are control, <unk> unknown, <0xNN> byte, the rest normal. */
  tokenTypes?: ArrayLike<number>;
}

const BYTE_PIECE = /^<0x[0-9A-F]{2}>$/;

export function firstEosTokenId(config: Gemma2Config): number {
  return typeof config.eosTokenId === "number" ? config.eosTokenId : (config.eosTokenId[0] ?? 1);
}

/** <pad>, <eos>, <bos> at the config's ids, <unk>, the byte pieces if they fit, then "tok{i}". */
export function synthesizeVocabulary(config: Gemma2Config): GgufVocabulary {
  const tokens: (string | undefined)[] = new Array(config.vocabSize).fill(undefined);
  const specials: [number, string][] = [[config.padTokenId, "<pad>"], [firstEosTokenId(config), "<eos>"], [config.bosTokenId, "<bos>"]];
  for (const [id, piece] of specials) {
    if (id >= config.vocabSize) throw new InvalidConfigError("vocabSize", `${config.vocabSize} has no room for ${piece} at id ${id}`);
    tokens[id] ??= piece;
  }
  let next = 0;
  const nextFree = (): number => {
    while (next < tokens.length && tokens[next] !== undefined) next++;
    return next;
  };
  if (nextFree() < tokens.length) tokens[next] = "<unk>";
  const free = tokens.filter((t) => t === undefined).length;
  if (free >= 256) {
    for (let byte = 0; byte < 256; byte++) tokens[nextFree()] = `<0x${byte.toString(16).toUpperCase().padStart(2, "0")}>`;
  }
  return { tokens: tokens.map((t, i) => t ?? `tok${i}`) };
}

/** Validates a vocabulary against the config and returns the tokenizer.* metadata entries. */
export function vocabularyEntries(config: Gemma2Config, vocabulary: GgufVocabulary): GgufEntry[] {
  const { tokens } = vocabulary;
  const n = tokens.length;
  if (n !== config.vocabSize) throw new InvalidArgumentError("vocabulary.tokens", `${n} tokens for vocabSize ${config.vocabSize}`);
  if (vocabulary.scores && vocabulary.scores.length !== n) throw new InvalidArgumentError("vocabulary.scores", `${vocabulary.scores.length} scores for ${n} tokens`);
  if (vocabulary.tokenTypes && vocabulary.tokenTypes.length !== n) throw new InvalidArgumentError("vocabulary.tokenTypes", `${vocabulary.tokenTypes.length} types for ${n} tokens`);
  const bos = config.bosTokenId;
  const eos = firstEosTokenId(config);
  const pad = config.padTokenId;
  for (const [field, id] of [["bosTokenId", bos], ["eosTokenId", eos], ["padTokenId", pad]] as const) {
    if (id >= n) throw new InvalidConfigError(field, `id ${id} is outside the ${n}-token vocabulary`);
  }
  const unknown = tokens.indexOf("<unk>");
  const tokenTypes =
    vocabulary.tokenTypes ??
    tokens.map((piece, id) => {
      if (id === bos || id === eos || id === pad) return TOKEN_TYPES.control;
      if (id === unknown) return TOKEN_TYPES.unknown;
      return BYTE_PIECE.test(piece) ? TOKEN_TYPES.byte : TOKEN_TYPES.normal;
    });
  const entries: GgufEntry[] = [
    { key: "tokenizer.ggml.model", type: "string", value: "llama" },
    { key: "tokenizer.ggml.pre", type: "string", value: "default" },
    { key: "tokenizer.ggml.tokens", type: "array", itemType: "string", value: tokens },
    { key: "tokenizer.ggml.scores", type: "array", itemType: "float32", value: vocabulary.scores ?? new Float32Array(n) },
    { key: "tokenizer.ggml.token_type", type: "array", itemType: "int32", value: tokenTypes },
    { key: "tokenizer.ggml.bos_token_id", type: "uint32", value: bos },
    { key: "tokenizer.ggml.eos_token_id", type: "uint32", value: eos },
  ];
  if (unknown >= 0) entries.push({ key: "tokenizer.ggml.unknown_token_id", type: "uint32", value: unknown });
  entries.push(
    { key: "tokenizer.ggml.padding_token_id", type: "uint32", value: pad },
    { key: "tokenizer.ggml.add_bos_token", type: "bool", value: true },
    { key: "tokenizer.ggml.add_eos_token", type: "bool", value: false },
    // llama.cpp's SPM default is true, which would put a dummy space in front of every text (PR #8248).
    { key: "tokenizer.ggml.add_space_prefix", type: "bool", value: false },
  );
  return entries;
}
