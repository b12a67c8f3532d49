// The tokenizer: one pipeline for every file format. Encoding runs, as Hugging Face's
// tokenizers does: added tokens split out of the raw text -> normalizer -> added tokens matched
// in the normalized text -> model on each remaining piece -> post-processor (adds <bos>).
// Decoding maps ids to token strings and runs the decoder chain.
import { AddedVocabulary, type AddedToken } from "./added-vocabulary.js";
import { renderGemmaChat, type ChatMessage, type ChatTemplateOptions } from "./chat-template.js";
import type { Decoder, Normalizer, PostProcessor, TokenizerModel } from "./components.js";
import { InvalidArgumentError } from "./errors.js";
import { IdBuffer } from "./id-buffer.js";

export interface EncodeOptions {
  /** Run the post-processor, which adds `<bos>` for Gemma. Default true, as in Hugging Face. */
  addSpecialTokens?: boolean;
}

export interface DecodeOptions {
  /** Leave out special tokens (`<bos>`, `<eos>`, `<start_of_turn>` ...). Default false. */
  skipSpecialTokens?: boolean;
}

/** Ids of the tokens Gemma's code refers to; undefined where a vocabulary lacks one. */
export interface SpecialTokenIds {
  pad: number | undefined;
  eos: number | undefined;
  bos: number | undefined;
  unk: number | undefined;
  startOfTurn: number | undefined;
  endOfTurn: number | undefined;
}

export interface Encoding {
  readonly ids: Int32Array;
  /** The token string of each id (computed on first access). */
  readonly tokens: readonly string[];
}

export interface TokenizerParts {
  model: TokenizerModel;
  addedTokens?: readonly AddedToken[];
  normalizer?: Normalizer | undefined;
  postProcessor?: PostProcessor | undefined;
  decoder?: Decoder | undefined;
  /** Token strings of the special roles; defaults are Gemma's (`<bos>`, `<eos>` ...). */
  specialTokens?: Partial<Record<keyof SpecialTokenIds, string>>;
}

const GEMMA_SPECIAL_TOKENS: Record<keyof SpecialTokenIds, string> = {
  pad: "<pad>",
  eos: "<eos>",
  bos: "<bos>",
  unk: "<unk>",
  startOfTurn: "<start_of_turn>",
  endOfTurn: "<end_of_turn>",
};

export class Tokenizer {
  readonly model: TokenizerModel;
  readonly addedVocabulary: AddedVocabulary;
  readonly normalizer: Normalizer | undefined;
  readonly postProcessor: PostProcessor | undefined;
  readonly decoder: Decoder | undefined;
  readonly special: SpecialTokenIds;
  readonly vocabSize: number;
  private readonly specialTokenStrings: Record<keyof SpecialTokenIds, string>;

  constructor(parts: TokenizerParts) {
    this.model = parts.model;
    this.addedVocabulary = new AddedVocabulary(parts.addedTokens ?? []);
    this.normalizer = parts.normalizer;
    this.postProcessor = parts.postProcessor;
    this.decoder = parts.decoder;
    this.specialTokenStrings = { ...GEMMA_SPECIAL_TOKENS, ...parts.specialTokens };
    const idOf = (token: string): number | undefined => this.tokenToId(token);
    const s = this.specialTokenStrings;
    this.special = {
      pad: idOf(s.pad),
      eos: idOf(s.eos),
      bos: idOf(s.bos),
      unk: idOf(s.unk),
      startOfTurn: idOf(s.startOfTurn),
      endOfTurn: idOf(s.endOfTurn),
    };
    let size = this.model.vocabSize;
    for (const token of this.addedVocabulary.tokens) size = Math.max(size, token.id + 1);
    this.vocabSize = size;
  }

  /**
   * Text to ids. Lone surrogates (possible in JavaScript strings, impossible in Rust's) are
   * replaced by U+FFFD first, which is what the Rust library sees when given such a string.
   */
  encode(text: string, options: EncodeOptions = {}): Encoding {
    if (typeof text !== "string") throw new InvalidArgumentError("text", `expected a string, got ${typeof text}`);
    const wellFormed = text.isWellFormed() ? text : text.toWellFormed();
    const out = new IdBuffer(wellFormed.length >> 1);
    for (const segment of this.addedVocabulary.splitRaw(wellFormed)) {
      if (segment.id !== undefined) {
        out.push(segment.id);
        continue;
      }
      const normalized = this.normalizer ? this.normalizer.normalize(segment.text) : segment.text;
      if (!this.addedVocabulary.hasNormalizedTokens) {
        this.model.tokenize(normalized, out);
        continue;
      }
      for (const piece of this.addedVocabulary.splitNormalized(normalized)) {
        if (piece.id !== undefined) out.push(piece.id);
        else this.model.tokenize(piece.text, out);
      }
    }
    let ids = out.toInt32Array();
    if ((options.addSpecialTokens ?? true) && this.postProcessor) ids = this.postProcessor.process(ids);
    return new LazyEncoding(ids, this);
  }

  decode(ids: ArrayLike<number>, options: DecodeOptions = {}): string {
    const tokens: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (!Number.isInteger(id)) throw new InvalidArgumentError(`ids[${i}]`, `expected an integer id, got ${id}`);
      const added = this.addedVocabulary.tokenById(id);
      if (added) {
        if (!(options.skipSpecialTokens && added.special)) tokens.push(added.content);
        continue;
      }
      const token = this.model.idToToken(id);
      if (token !== undefined) tokens.push(token);
    }
    return this.decoder ? this.decoder.decodeChain(tokens).join("") : tokens.join(" ");
  }

  tokenToId(token: string): number | undefined {
    return this.addedVocabulary.tokenByContent(token)?.id ?? this.model.tokenToId(token);
  }

  idToToken(id: number): string | undefined {
    return this.addedVocabulary.tokenById(id)?.content ?? this.model.idToToken(id);
  }

  /** Renders a conversation in Gemma's turn format (see chat-template.ts). */
  applyChatTemplate(messages: readonly ChatMessage[], options: ChatTemplateOptions = {}): string {
    return renderGemmaChat(messages, { bosToken: this.specialTokenStrings.bos, ...options });
  }
}

class LazyEncoding implements Encoding {
  private tokenStrings: string[] | undefined;

  constructor(
    readonly ids: Int32Array,
    private readonly tokenizer: Tokenizer,
  ) {}

  get tokens(): readonly string[] {
    this.tokenStrings ??= Array.from(this.ids, (id) => this.tokenizer.idToToken(id) ?? "");
    return this.tokenStrings;
  }
}
