// How OpenAI-style logprobs show a token, computed from the student's tokenizer: a special token
// (or an id with no token) as its content, a byte-fallback token <0xNN> above 0x7F as
// "bytes:\xNN" (half a character, no text alone), any other token as its decoded text. The HTTP
// teacher compares a server's strings with these to check the vocabulary, and in the echo
// protocol maps the strings of `top_logprobs` (keyed by string, not id) back to ids, refusing a
// string that several ids share.
import type { Tokenizer } from "@gemma-ts/tokenizer";

const BYTE_TOKEN = /^<0x([0-9A-Fa-f]{2})>$/;

export class TokenStrings {
  private readonly shown: (string | undefined)[];
  private byString: Map<string, number> | undefined;
  /** Strings two or more ids show alike: no id can be read back from them. */
  private shared: Set<string> | undefined;

  constructor(
    readonly tokenizer: Tokenizer,
    readonly size: number,
  ) {
    this.shown = new Array<string | undefined>(size);
  }

  /** The string a server's logprobs show for `id`. */
  display(id: number): string {
    let text = this.shown[id];
    if (text === undefined) {
      text = this.compute(id);
      this.shown[id] = text;
    }
    return text;
  }

  /** Strings that also match `id`: the raw piece, and the piece with SentencePiece's '▁' as a space (servers that decode in context). */
  alternatives(id: number): string[] {
    const piece = this.tokenizer.idToToken(id);
    return piece === undefined ? [] : [piece, piece.replaceAll("\u2581", " ")];
  }

  /** The id a string names: undefined when no id shows it, null when several do. */
  idOf(text: string): number | null | undefined {
    if (this.byString === undefined || this.shared === undefined) {
      const byString = new Map<string, number>();
      const shared = new Set<string>();
      for (let id = 0; id < this.size; id++) {
        const shown = this.display(id);
        if (byString.has(shown)) shared.add(shown);
        else byString.set(shown, id);
      }
      this.byString = byString;
      this.shared = shared;
    }
    if (this.shared.has(text)) return null;
    return this.byString.get(text);
  }

  private compute(id: number): string {
    const added = this.tokenizer.addedVocabulary.tokenById(id);
    const piece = this.tokenizer.idToToken(id);
    if (piece === undefined) return "";
    if (added?.special) return piece;
    const byte = added ? undefined : BYTE_TOKEN.exec(piece);
    if (byte) {
      const value = Number.parseInt(byte[1]!, 16);
      if (value >= 0x80) return `bytes:\\x${value.toString(16).padStart(2, "0")}`;
      return String.fromCharCode(value);
    }
    return this.tokenizer.decode([id]);
  }
}
