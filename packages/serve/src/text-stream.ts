// Incremental detokenization with stop strings. Tokens arrive one at a time as bytes (a byte-
// fallback token may be a third of a character); a streaming UTF-8 decoder holds back the bytes of
// an unfinished character, so no delta ever splits one. Text that could be the start of a stop
// string is held back too, so a stop string split across tokens is still caught and nothing from
// it on is ever emitted.
//
// The text equals tokenizer.decode(ids, { skipSpecialTokens: true }) whenever the bytes are valid
// UTF-8. For invalid bytes this gives one U+FFFD per maximal invalid sequence (the WHATWG rule),
// where Hugging Face's ByteFallback gives one per byte of the whole run: its rule lets a later
// byte rewrite text already shown, which a stream cannot take back.
import type { TokenVocabulary } from "./vocabulary.js";

export class TextStream {
  private readonly decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });
  /** Decoded text not emitted yet: a possible stop-string start. */
  private pending = "";
  /** No more text: finished, or a stop string was found. */
  private done = false;
  private foundStop = false;
  private readonly stops: readonly string[];

  constructor(
    private readonly vocabulary: Pick<TokenVocabulary, "bytes">,
    stop: readonly string[] = [],
  ) {
    this.stops = stop.filter((s) => s.length > 0);
  }

  /** A stop string was found; nothing more will be emitted. */
  get stopped(): boolean {
    return this.foundStop;
  }

  /** Adds a token; returns the text that is now safe to emit (often ""). */
  push(id: number): string {
    if (this.done) return "";
    const bytes = this.vocabulary.bytes(id);
    if (bytes.length === 0) return "";
    this.pending += this.decoder.decode(bytes, { stream: true });
    return this.release(false);
  }

  /** Ends the stream: an unfinished character becomes U+FFFD, held text is released. */
  finish(): string {
    if (this.done) return "";
    this.pending += this.decoder.decode();
    const text = this.release(true);
    this.done = true;
    return text;
  }

  private release(final: boolean): string {
    let cut = -1;
    for (const stop of this.stops) {
      const at = this.pending.indexOf(stop);
      if (at >= 0 && (cut < 0 || at < cut)) cut = at;
    }
    if (cut >= 0) {
      const text = this.pending.slice(0, cut);
      this.pending = "";
      this.done = true;
      this.foundStop = true;
      return text;
    }
    const keep = final ? 0 : this.heldTail();
    let end = this.pending.length - keep;
    // Never end a delta between the halves of a surrogate pair.
    if (end > 0 && end < this.pending.length && isHighSurrogate(this.pending.charCodeAt(end - 1))) end--;
    const text = this.pending.slice(0, end);
    this.pending = this.pending.slice(end);
    return text;
  }

  /** Length of the longest tail of the pending text that some stop string starts with. */
  private heldTail(): number {
    let held = 0;
    for (const stop of this.stops) {
      for (let length = Math.min(stop.length - 1, this.pending.length); length > held; length--) {
        if (this.pending.endsWith(stop.slice(0, length))) {
          held = length;
          break;
        }
      }
    }
    return held;
  }
}

function isHighSurrogate(unit: number): boolean {
  return unit >= 0xd800 && unit <= 0xdbff;
}
