// Loads Hugging Face's tokenizer.json into the pipeline. Supported: the BPE model (merges as
// "a b" strings or [a, b] pairs, byte_fallback, unk/fuse_unk, ignore_merges), the normalizers,
// decoders and TemplateProcessing post-processor that SentencePiece-style tokenizers use, no
// pre-tokenizer, and added tokens. Anything else is refused with an UnsupportedComponentError
// that names it, rather than tokenized differently from the reference.
import type { AddedToken } from "../added-vocabulary.js";
import type { Decoder, Normalizer, PostProcessor } from "../components.js";
import {
  ByteFallbackDecoder,
  FuseDecoder,
  ReplaceDecoder,
  SequenceDecoder,
  StripDecoder,
} from "../decoders/hf-decoders.js";
import { MalformedTokenizerFileError, UnsupportedComponentError } from "../errors.js";
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
    normalizer: readNormalizer(root.get("normalizer")),
    postProcessor: readPostProcessor(root.get("post_processor")),
    decoder: readDecoder(root.get("decoder")),
  });
}

function parseSource(source: string | Uint8Array | object): unknown {
  if (typeof source === "object" && !(source instanceof Uint8Array)) return source;
  const text = typeof source === "string" ? source : new TextDecoder().decode(source);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new MalformedTokenizerFileError("(root)", `not valid JSON (${(error as Error).message}); is the file truncated?`);
  }
}

function readAddedTokens(list: JsonReader): AddedToken[] {
  if (list.isNull()) return [];
  return list.array().map((entry) => ({
    id: entry.require("id").index(),
    content: entry.require("content").string(),
    special: entry.get("special").boolean(false),
    normalized: entry.get("normalized").boolean(true),
    lstrip: entry.get("lstrip").boolean(false),
    rstrip: entry.get("rstrip").boolean(false),
    singleWord: entry.get("single_word").boolean(false),
  }));
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
    unkToken: unk.isNull() ? undefined : unk.string(),
    byteFallback: model.get("byte_fallback").boolean(false),
    fuseUnk: model.get("fuse_unk").boolean(false),
    ignoreMerges: model.get("ignore_merges").boolean(false),
  });
}

// The vocabulary and the merges are the bulk of the file (256k + 580k entries for Gemma), so
// they are checked in plain loops rather than through a JsonReader per entry.
function readVocab(vocab: JsonReader): (string | undefined)[] {
  const entries = vocab.object();
  const tokens: (string | undefined)[] = [];
  for (const token in entries) {
    const id = entries[token];
    if (typeof id !== "number" || !Number.isInteger(id) || id < 0) vocab.get(token).index();
    if (tokens[id as number] !== undefined) vocab.get(token).fail(`id ${String(id)} is also given to '${tokens[id as number]}'`);
    tokens[id as number] = token;
  }
  return tokens;
}

function readMerges(merges: JsonReader): [string, string][] {
  if (!Array.isArray(merges.value)) merges.array();
  const list = merges.value as unknown[];
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

function readPattern(pattern: JsonReader): string | RegExp {
  const literal = pattern.get("String");
  if (!literal.isNull()) return literal.string();
  const regex = pattern.get("Regex");
  if (!regex.isNull()) {
    try {
      return new RegExp(regex.string(), "gu");
    } catch (error) {
      regex.fail(`not a regular expression this runtime understands (${(error as Error).message})`);
    }
  }
  return pattern.fail("expected {String} or {Regex}");
}

function readNormalizer(spec: JsonReader): Normalizer | undefined {
  if (spec.isNull()) return undefined;
  const type = spec.require("type").string();
  switch (type) {
    case "Replace":
      return new ReplaceNormalizer(readPattern(spec.require("pattern")), spec.require("content").string());
    case "Prepend":
      return new PrependNormalizer(spec.require("prepend").string());
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
      return new SequenceNormalizer(spec.require("normalizers").array().map((item) => readNormalizer(item)!));
    default:
      throw new UnsupportedComponentError(`normalizer at ${spec.path}`, `type '${type}'`);
  }
}

function readDecoder(spec: JsonReader): Decoder | undefined {
  if (spec.isNull()) return undefined;
  const type = spec.require("type").string();
  switch (type) {
    case "Replace":
      return new ReplaceDecoder(readPattern(spec.require("pattern")), spec.require("content").string());
    case "ByteFallback":
      return new ByteFallbackDecoder();
    case "Fuse":
      return new FuseDecoder();
    case "Strip":
      return new StripDecoder(spec.require("content").string(), spec.require("start").index(), spec.require("stop").index());
    case "Sequence":
      return new SequenceDecoder(spec.require("decoders").array().map((item) => readDecoder(item)!));
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
  const pieces = spec.require("single").array().map((item): TemplatePiece => {
    const sequence = item.get("Sequence");
    if (!sequence.isNull()) {
      if (sequence.require("id").string() !== "A") sequence.fail("a single-sequence template can only refer to sequence A");
      return { kind: "sequence" };
    }
    const special = item.require("SpecialToken");
    const name = special.require("id").string();
    const definition = specialTokens.get(name);
    if (definition.isNull()) special.fail(`'${name}' is not listed in special_tokens`);
    return { kind: "special", ids: definition.require("ids").array().map((id) => id.index()) };
  });
  return new TemplatePostProcessor(pieces);
}
