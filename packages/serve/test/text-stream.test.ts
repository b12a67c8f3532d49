// Incremental detokenization on a real byte-fallback vocabulary: emoji and CJK arrive as <0xNN>
// tokens a byte at a time and come out whole; stop strings split across tokens (even inside one
// character's bytes) are caught with nothing of them emitted.
import type { Tokenizer } from "@gemma-ts/tokenizer";
import { beforeAll, describe, expect, it } from "vitest";
import { TextStream, TokenVocabulary } from "../src/index.js";
import { sotuTokenizer } from "./support/small-model.js";

let tokenizer: Tokenizer;
let vocabulary: TokenVocabulary;

beforeAll(async () => {
  tokenizer = await sotuTokenizer();
  vocabulary = new TokenVocabulary(tokenizer, tokenizer.vocabSize);
});

const ids = (text: string) => Array.from(tokenizer.encode(text, { addSpecialTokens: false }).ids);

function stream(tokens: number[], stop: string[] = []): { deltas: string[]; text: string; stopped: boolean } {
  const text = new TextStream(vocabulary, stop);
  const deltas = tokens.map((id) => text.push(id));
  deltas.push(text.finish());
  return { deltas, text: deltas.join(""), stopped: text.stopped };
}

describe("TextStream", () => {
  it("holds back the bytes of an unfinished character and emits it whole", () => {
    const text = "Peace 😀 和平 naïve café — 🇺🇸!";
    const tokens = ids(text);
    const byteTokens = tokens.filter((id) => /^<0x[89A-F][0-9A-F]>$/.test(tokenizer.idToToken(id) ?? ""));
    expect(byteTokens.length).toBeGreaterThan(10); // the 1,500-token vocabulary spells these in bytes
    const { deltas, text: streamed } = stream(tokens);
    expect(streamed).toBe(text);
    expect(streamed).toBe(tokenizer.decode(tokens));
    for (const delta of deltas) {
      expect(delta.isWellFormed()).toBe(true);
      expect(delta).not.toContain("\ufffd");
    }
    // Some pushes had only part of a character: nothing to emit yet.
    expect(deltas.filter((delta) => delta === "").length).toBeGreaterThan(5);
  });

  it("skips special tokens and turns an unfinished character at the end into U+FFFD", () => {
    const emoji = ids("😀");
    const bos = tokenizer.special.bos!;
    expect(stream([bos, ...ids("Hi"), ...emoji.slice(0, 2)]).text).toBe("Hi\ufffd");
  });

  it("stops before a stop string split across tokens and emits nothing of it", () => {
    const tokens = ids("The state of our union is strong, and getting stronger.");
    const pieces = tokens.map((id) => new TextDecoder().decode(vocabulary.bytes(id)));
    const k = pieces.findIndex((piece, i) => piece.length >= 3 && (pieces[i + 1]?.length ?? 0) >= 3);
    const stop = pieces[k]!.slice(-2) + pieces[k + 1]!.slice(0, 2);
    const { text, stopped } = stream(tokens, [stop]);
    const full = tokenizer.decode(tokens);
    // Everything emitted, all deltas together, ends where the stop string begins.
    expect(text).toBe(full.slice(0, full.indexOf(stop)));
    expect(stopped).toBe(true);
  });

  it("catches the earliest of several stop strings, one of them a character spelled in bytes", () => {
    const tokens = ids("Go forward 😀 together, then stop.");
    expect(stream(tokens, ["then", "😀"]).text).toBe("Go forward ");
    expect(stream(tokens, ["ether", "stop"]).text).toBe("Go forward 😀 tog");
    // A held-back stop prefix that never completes is released at the end.
    const open = stream(ids("It ends with th"), ["then"]);
    expect(open.text).toBe("It ends with th");
    expect(open.stopped).toBe(false);
  });
});
