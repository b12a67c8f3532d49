// Loads Hugging Face's tokenizer.json into the pipeline. Supported: the BPE model (merges as
// "a b" strings or [a, b] pairs, byte_fallback, unk/fuse_unk, ignore_merges), the normalizers,
// decoders and TemplateProcessing post-processor that SentencePiece-style tokenizers use, no
// pre-tokenizer, and added tokens. Anything else is refused with an UnsupportedComponentError
// that names it, rather than tokenized differently from the reference. Every size in the file is
// checked against TOKENIZER_LIMITS (limits.ts) before it is used, and nested components are read
// to a bounded depth, so no file can exhaust memory or the stack.
import type { AddedToken } from "../added-vocabulary.js";
import type { Decoder, Normalizer, PostProcessor } from "../components.js";
import {
  ByteFallbackDecoder,
  FuseDecoder,
  ReplaceDecoder,
  SequenceDecoder,
  StripDecoder,
} from "../decoders/hf-decoders.js";
import { InvalidArgumentError, MalformedTokenizerFileError, UnsupportedComponentError } from "../errors.js";
import { checkLimit, TOKENIZER_LIMITS } from "../limits.js";
import { BpeModel } from "../models/bpe.js";
import {
  LowercaseNormalizer,
  PrependNormalizer,
  ReplaceNormalizer,
  SequenceNormalizer,
  StripNormalizer,
  UnicodeNormalizer,
} from "../normalizers/hf-normalizers.js";
import { TemplatePostProcessor, type TemplatePiece } from "../post-processors.js";
import { type ReplacePattern, Replacement } from "../replacement.js";
import { Tokenizer } from "../tokenizer.js";
import { JsonReader } from "./json-reader.js";

/** Builds a tokenizer from the text, bytes or parsed object of a tokenizer.json. */
export function tokenizerFromJson(source: string | Uint8Array | object): Tokenizer {
  const root = new JsonReader(parseSource(source), "");
  root.object();
  const addedTokens = readAddedTokens(root.get("added_tokens"));
  const model = readBpeModel(root.require("model"));
  const preTokenizer = root.get("pre_tokenizer");
  if (!preTokenizer.isNull()) {
    throw new UnsupportedComponentError("pre_tokenizer", `type '${String(preTokenizer.get("type").value)}' (only tokenizers without a pre-tokenizer, like Gemma's, are supported)`);
  }
  return new Tokenizer({
    model,
    addedTokens,
    normalizer: readNormalizer(root.get("normalizer"), 1),
    postProcessor: readPostProcessor(root.get("post_processor")),
    decoder: readDecoder(root.get("decoder"), 1),
  });
}

function parseSource(source: string | Uint8Array | object): unknown {
  if (typeof source !== "string" && typeof source !== "object") {
    throw new InvalidArgumentError("source", `expected the text, bytes or parsed object of a tokenizer.json, got ${typeof source}`);
  }
  if (typeof source === "object" && !(source instanceof Uint8Array)) return source;
  checkLimit("fileBytes", typeof source === "string" ? "the length of the tokenizer.json text" : "the size of the tokenizer.json file", source.length);
  const text = typeof source === "string" ? source : new TextDecoder().decode(source);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new MalformedTokenizerFileError("(root)", `not valid JSON (${(error as Error).message}); is the file truncated?`);
  }
}

function readAddedTokens(list: JsonReader): AddedToken[] {
  if (list.isNull()) return [];
  const tokens: AddedToken[] = [];
  // Each character of an added token is a node of the trie that finds them in the text.
  let totalLength = 0;
  for (const entry of list.array("vocabSize")) {
    const content = entry.require("content").string("tokenLength");
    totalLength += content.length;
    checkLimit("addedTokensLength", `the total length of ${list.path} up to ${entry.path}`, totalLength);
    tokens.push({
      id: entry.require("id").id(),
      content,
      special: entry.get("special").boolean(false),
      normalized: entry.get("normalized").boolean(true),
      lstrip: entry.get("lstrip").boolean(false),
      rstrip: entry.get("rstrip").boolean(false),
      singleWord: entry.get("single_word").boolean(false),
    });
  }
  return tokens;
}

function readBpeModel(model: JsonReader): BpeModel {
  const type = model.get("type");
  const typeName = type.isNull() ? "BPE" : type.string();
  if (typeName !== "BPE") {
    throw new UnsupportedComponentError("model", `type '${typeName}' (only BPE is supported; Unigram, WordPiece and WordLevel are not)`);
  }
  for (const field of ["continuing_subword_prefix", "end_of_word_suffix"]) {
    const value = model.get(field);
    if (!value.isNull() && value.string() !== "") {
      throw new UnsupportedComponentError(`model.${field}`, `'${value.string()}' (SentencePiece-style BPE has none)`);
    }
  }
  const dropout = model.get("dropout");
  if (!dropout.isNull() && dropout.value !== 0) {
    throw new UnsupportedComponentError("model.dropout", "BPE dropout (encoding would not be deterministic)");
  }
  const tokens = readVocab(model.require("vocab"));
  const merges = readMerges(model.require("merges"));
  const unk = model.get("unk_token");
  return new BpeModel({
    tokens,
    merges,
    unkToken: unk.isNull() ? undefined : unk.string("tokenLength"),
    byteFallback: model.get("byte_fallback").boolean(false),
    fuseUnk: model.get("fuse_unk").boolean(false),
    ignoreMerges: model.get("ignore_merges").boolean(false),
  });
}

// The vocabulary and the merges are the bulk of the file (256k + 580k entries for Gemma), so
// they are checked in plain loops rather than through a JsonReader per entry. An id is checked
// before it indexes the token array: one near 2^32 would otherwise make a 4-billion-slot array,
// and one past 2^32 - 2 would become a plain property and silently vanish from the vocabulary.
function readVocab(vocab: JsonReader): (string | undefined)[] {
  const entries = vocab.object();
  const tokens: (string | undefined)[] = [];
  const { tokenId, tokenLength } = TOKENIZER_LIMITS;
  let count = 0;
  for (const token in entries) {
    if (++count > TOKENIZER_LIMITS.vocabSize.max) checkLimit("vocabSize", `the number of entries of ${vocab.path}`, Object.keys(entries).length);
    const id = entries[token];
    if (typeof id !== "number" || !Number.isInteger(id) || id < 0 || id > tokenId.max) vocab.get(token).id();
    if (token.length > tokenLength.max) checkLimit("tokenLength", `the length of the token with id ${String(id)} in ${vocab.path}`, token.length);
    if (tokens[id as number] !== undefined) vocab.get(token).fail(`id ${String(id)} is also given to '${tokens[id as number]}'`);
    tokens[id as number] = token;
  }
  return tokens;
}

function readMerges(merges: JsonReader): [string, string][] {
  if (!Array.isArray(merges.value)) merges.array();
  const list = merges.value as unknown[];
  checkLimit("merges", `the number of ${merges.path}`, list.length);
  const pairs: [string, string][] = new Array(list.length);
  for (let i = 0; i < list.length; i++) {
    const merge = list[i];
    if (typeof merge === "string") {
      const space = merge.indexOf(" ");
      if (space < 0 || merge.indexOf(" ", space + 1) >= 0) {
        new JsonReader(merge, `${merges.path}[${i}]`).fail(`expected "left right", got ${JSON.stringify(merge)}`);
      }
      pairs[i] = [merge.slice(0, space), merge.slice(space + 1)];
    } else if (Array.isArray(merge) && merge.length === 2 && typeof merge[0] === "string" && typeof merge[1] === "string") {
      pairs[i] = [merge[0], merge[1]];
    } else {
      new JsonReader(merge, `${merges.path}[${i}]`).fail("expected \"left right\" or a pair of token strings");
    }
  }
  return pairs;
}

function readReplacement(spec: JsonReader): Replacement {
  const pattern = spec.require("pattern");
  const literal = pattern.get("String");
  const regex = pattern.get("Regex");
  let source: ReplacePattern;
  if (!literal.isNull()) source = { literal: literal.string("componentStringLength") };
  else if (!regex.isNull()) source = { regex: regex.string("componentStringLength") };
  else return pattern.fail("expected {String} or {Regex}");
  return new Replacement(source, spec.require("content").string("componentStringLength"), spec.path);
}

/** Refuses components nested deeper than the limit before reading them (`depth` is 1 at the top). */
function checkDepth(spec: JsonReader, depth: number): void {
  checkLimit("componentDepth", `the nesting depth of ${spec.path.split(".")[0]}`, depth);
}

function readNormalizer(spec: JsonReader, depth: number): Normalizer | undefined {
  if (spec.isNull()) return undefined;
  checkDepth(spec, depth);
  const type = spec.require("type").string();
  switch (type) {
    case "Replace":
      return new ReplaceNormalizer(readReplacement(spec));
    case "Prepend":
      return new PrependNormalizer(spec.require("prepend").string("componentStringLength"), spec.path);
    case "NFC":
    case "NFD":
    case "NFKC":
    case "NFKD":
      return new UnicodeNormalizer(type);
    case "Lowercase":
      return new LowercaseNormalizer();
    case "Strip":
      return new StripNormalizer(spec.get("strip_left").boolean(true), spec.get("strip_right").boolean(true));
    case "Sequence":
      return new SequenceNormalizer(
        spec.require("normalizers").array("componentListLength").map((item) => readNormalizer(item, depth + 1) ?? item.fail("expected a normalizer, got null")),
      );
    default:
      throw new UnsupportedComponentError(`normalizer at ${spec.path}`, `type '${type}'`);
  }
}

function readDecoder(spec: JsonReader, depth: number): Decoder | undefined {
  if (spec.isNull()) return undefined;
  checkDepth(spec, depth);
  const type = spec.require("type").string();
  switch (type) {
    case "Replace":
      return new ReplaceDecoder(readReplacement(spec));
    case "ByteFallback":
      return new ByteFallbackDecoder();
    case "Fuse":
      return new FuseDecoder();
    case "Strip":
      return new StripDecoder(spec.require("content").string("componentStringLength"), spec.require("start").index(), spec.require("stop").index());
    case "Sequence":
      return new SequenceDecoder(
        spec.require("decoders").array("componentListLength").map((item) => readDecoder(item, depth + 1) ?? item.fail("expected a decoder, got null")),
      );
    default:
      throw new UnsupportedComponentError(`decoder at ${spec.path}`, `type '${type}'`);
  }
}

function readPostProcessor(spec: JsonReader): PostProcessor | undefined {
  if (spec.isNull()) return undefined;
  const type = spec.require("type").string();
  if (type !== "TemplateProcessing") {
    throw new UnsupportedComponentError("post_processor", `type '${type}' (only TemplateProcessing is supported)`);
  }
  const specialTokens = spec.require("special_tokens");
  // Every encoding gets these ids: bounded together, not just per list.
  let idCount = 0;
  const pieces = spec.require("single").array("componentListLength").map((item): TemplatePiece => {
    const sequence = item.get("Sequence");
    if (!sequence.isNull()) {
      if (sequence.require("id").string() !== "A") sequence.fail("a single-sequence template can only refer to sequence A");
      return { kind: "sequence" };
    }
    const special = item.require("SpecialToken");
    const name = special.require("id").string();
    const definition = specialTokens.get(name);
    if (definition.isNull()) special.fail(`'${name}' is not listed in special_tokens`);
    const ids = definition.require("ids").array("componentListLength").map((id) => id.id());
    idCount += ids.length;
    checkLimit("componentListLength", `the number of special ids of ${spec.path}.single`, idCount);
    return { kind: "special", ids };
  });
  return new TemplatePostProcessor(pieces);
}
