// Writes a trained vocabulary as a tokenizer.json shaped like Gemma's (added tokens, Replace ' ' ->
// '▁', no pre-tokenizer, <bos> template, Replace/ByteFallback/Fuse decoder, BPE model). Ids follow
// spm's order: specials, bytes, merged pieces in learning order, characters. Merges follow
// transformers' SentencePieceExtractor: every split of each piece into two pieces, by piece rank.
import type { LearnedPiece } from "./merge-learner.js";

export interface AddedTokenJson {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

type Pattern = { String: string };

export interface TokenizerJson {
  version: "1.0";
  truncation: null;
  padding: null;
  added_tokens: AddedTokenJson[];
  normalizer: { type: "Replace"; pattern: Pattern; content: string };
  pre_tokenizer: null;
  post_processor: {
    type: "TemplateProcessing";
    single: TemplateItem[];
    pair: TemplateItem[];
    special_tokens: Record<string, { id: string; ids: number[]; tokens: string[] }>;
  } | null;
  decoder: {
    type: "Sequence";
    decoders: ({ type: "Replace"; pattern: Pattern; content: string } | { type: "ByteFallback" } | { type: "Fuse" })[];
  };
  model: {
    type: "BPE";
    dropout: null;
    unk_token: string;
    continuing_subword_prefix: null;
    end_of_word_suffix: null;
    fuse_unk: boolean;
    byte_fallback: boolean;
    ignore_merges: boolean;
    vocab: Record<string, number>;
    merges: string[];
  };
}

type TemplateItem = { SpecialToken: { id: string; type_id: number } } | { Sequence: { id: "A" | "B"; type_id: number } };

export interface VocabularyParts {
  specialTokens: readonly string[];
  /** Added tokens that are not special (Gemma's newline runs). */
  plainAddedTokens: readonly string[];
  byteFallback: boolean;
  unkToken: string;
  bosToken: string | null;
  learned: readonly LearnedPiece[];
  /** Single-character pieces, most frequent first. */
  characters: readonly string[];
}

export function writeTokenizerJson(parts: VocabularyParts): TokenizerJson {
  const tokens: string[] = [];
  const ids = new Map<string, number>();
  const add = (token: string): void => {
    if (ids.has(token)) return;
    ids.set(token, tokens.length);
    tokens.push(token);
  };
  parts.specialTokens.forEach(add);
  parts.plainAddedTokens.forEach(add);
  if (parts.byteFallback) {
    for (let byte = 0; byte < 256; byte++) add(`<0x${byte.toString(16).toUpperCase().padStart(2, "0")}>`);
  }
  const firstPiece = tokens.length;
  for (const { piece } of parts.learned) add(piece);
  parts.characters.forEach(add);

  const addedToken = (content: string, special: boolean): AddedTokenJson => ({
    id: ids.get(content)!,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special,
  });
  const bos = parts.bosToken;
  const vocab: Record<string, number> = {};
  tokens.forEach((token, id) => (vocab[token] = id));
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: [
      ...parts.specialTokens.map((content) => addedToken(content, true)),
      ...parts.plainAddedTokens.map((content) => addedToken(content, false)),
    ],
    normalizer: { type: "Replace", pattern: { String: " " }, content: "\u2581" },
    pre_tokenizer: null,
    post_processor: bos === null ? null : {
      type: "TemplateProcessing",
      single: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
      pair: [
        { SpecialToken: { id: bos, type_id: 0 } },
        { Sequence: { id: "A", type_id: 0 } },
        { SpecialToken: { id: bos, type_id: 1 } },
        { Sequence: { id: "B", type_id: 1 } },
      ],
      special_tokens: { [bos]: { id: bos, ids: [ids.get(bos)!], tokens: [bos] } },
    },
    decoder: {
      type: "Sequence",
      decoders: [{ type: "Replace", pattern: { String: "\u2581" }, content: " " }, { type: "ByteFallback" }, { type: "Fuse" }],
    },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: parts.unkToken,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: parts.byteFallback,
      ignore_merges: false,
      vocab,
      merges: mergesFor(parts.learned, ids, firstPiece),
    },
  };
}

/**
 * The merge rules, ranked by the piece they make, in learning order. Each piece gets the pair it
 * was learned from first, then every other split into two pieces of the vocabulary (by their
 * ids), so that Hugging Face's BPE, which only merges listed pairs, builds a piece from whichever
 * halves are adjacent, as SentencePiece's encoder does. Only learned pieces and characters take
 * part: special and byte tokens must never merge.
 */
function mergesFor(learned: readonly LearnedPiece[], ids: ReadonlyMap<string, number>, firstPiece: number): string[] {
  const pieceId = (piece: string): number | undefined => {
    const id = ids.get(piece);
    return id !== undefined && id >= firstPiece ? id : undefined;
  };
  const merges: string[] = [];
  for (const { piece, left, right } of learned) {
    merges.push(`${left} ${right}`);
    const others: [number, number, string][] = [];
    for (let at = 1; at < piece.length; at++) {
      // Never split a surrogate pair: both halves must be whole characters.
      const unit = piece.charCodeAt(at);
      if (unit >= 0xdc00 && unit <= 0xdfff) continue;
      const head = piece.slice(0, at);
      if (head === left) continue;
      const tail = piece.slice(at);
      const headId = pieceId(head);
      const tailId = pieceId(tail);
      if (headId !== undefined && tailId !== undefined) others.push([headId, tailId, `${head} ${tail}`]);
    }
    others.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
    for (const other of others) merges.push(other[2]);
  }
  return merges;
}

/**
 * The tokenizer.json text, indented as Hugging Face writes it, with the vocabulary in id order
 * (a plain JSON.stringify would put keys such as "0".."9" first: JavaScript orders integer-like
 * keys before the others).
 */
export function stringifyTokenizerJson(json: TokenizerJson): string {
  const placeholder = "\u0000vocab\u0000";
  const text = JSON.stringify({ ...json, model: { ...json.model, vocab: placeholder } }, null, 2);
  const entries = Object.entries(json.model.vocab).sort((a, b) => a[1] - b[1]);
  const vocab = `{\n${entries.map(([token, id]) => `      ${JSON.stringify(token)}: ${id}`).join(",\n")}\n    }`;
  return text.replace(JSON.stringify(placeholder), () => vocab);
}
