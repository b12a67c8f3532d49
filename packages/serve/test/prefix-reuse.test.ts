// Prefix reuse: the second turn of a chat (previous prompt + reply + a new question) reuses the
// idle row that still holds the first turn, so it reaches its first token measurably sooner than
// the same prompt prefilled from scratch, and with the same tokens.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Engine } from "../src/index.js";
import { collect } from "./support/collect.js";
import { promptIds, smallModel, type SmallModel } from "./support/small-model.js";

let small: SmallModel;
let engine: Engine;

beforeAll(async () => {
  small = await smallModel({ hiddenSize: 128, intermediateSize: 512 });
  engine = new Engine({ model: small.model, tokenizer: small.tokenizer, maxBatchSize: 4, contextLength: 512 });
});

afterAll(async () => {
  await engine.close();
});

const history =
  "Mr. Speaker, Mr. Vice President, Members of Congress, my fellow Americans: tonight marks the eighth year that I have come here to report on the State of the Union. " +
  "For this final one, I am going to try to make it a little shorter. I know some of you are antsy to get back to Iowa. " +
  "I also understand that because it is an election season, expectations for what we will achieve this year are low. " +
  "But, Mister Speaker, I appreciate the constructive approach that you and other leaders took at the end of last year to pass a budget and make tax cuts permanent for working families. " +
  "So I hope we can work together this year on some bipartisan priorities like criminal justice reform and helping people who are battling prescription drug abuse and heroin abuse. " +
  "So, who knows, we might surprise the cynics again. But tonight, I want to go easy on the traditional list of proposals for the year ahead. " +
  "Instead, I want to focus on the next five years, the next ten years, and beyond. I want to focus on our future.";

describe("prefix reuse", () => {
  it("serves a second chat turn from the cached first turn: sooner to the first token, same tokens", async () => {
    const first = promptIds(small.tokenizer, history);
    expect(first.length).toBeGreaterThan(300);
    const turn = (ids: number[]) => engine.complete({ promptIds: ids, maxTokens: 8, sampling: { temperature: 0 }, stopTokens: [] });
    const reply = (await collect(turn(first))).ids;
    const question = Array.from(small.tokenizer.encode(" What comes next?", { addSpecialTokens: false }).ids);
    const second = [...first, ...reply, ...question];

    // Warm-up: compile every prefill shape both paths use.
    await collect(turn(second));
    engine.clearPrefixCache();

    const reused: number[] = [];
    const fresh: number[] = [];
    let reusedIds: number[] = [];
    let freshIds: number[] = [];
    for (let round = 0; round < 3; round++) {
      engine.clearPrefixCache();
      await collect(turn(first));
      const hit = await collect(turn(second));
      // The row held the first prompt and the reply but its last token (sampled, never fed back).
      expect(hit.usage.cachedTokens).toBe(first.length + reply.length - 1);
      reused.push(hit.firstChunkMs);
      reusedIds = hit.ids;

      engine.clearPrefixCache();
      const miss = await collect(turn(second));
      expect(miss.usage.cachedTokens).toBe(0);
      fresh.push(miss.firstChunkMs);
      freshIds = miss.ids;
    }
    console.log(`time to first token, ${second.length}-token prompt: ${Math.min(...reused).toFixed(1)} ms reusing the cached turn, ${Math.min(...fresh).toFixed(1)} ms from scratch`);
    expect(reusedIds).toEqual(freshIds);
    expect(Math.min(...reused)).toBeLessThan(Math.min(...fresh) * 0.7);
  });

  it("reuses an idle row for a prompt that extends its ids, and an identical prompt recomputes only its last token", async () => {
    engine.clearPrefixCache();
    const ids = promptIds(small.tokenizer, "We will rebuild our roads and bridges.");
    const a = await collect(engine.complete({ promptIds: ids, maxTokens: 3, sampling: { temperature: 0 }, stopTokens: [] }));
    expect(a.usage.cachedTokens).toBe(0);
    // Same prompt again: the row holds prompt + 2 generated ids, more than the sliding window (8),
    // so its ring cannot be cut back 3 positions: this one takes an empty row.
    expect(ids.length + 2).toBeGreaterThan(8);
    const b = await collect(engine.complete({ promptIds: ids, maxTokens: 3, sampling: { temperature: 0 }, stopTokens: [] }));
    expect(b.ids).toEqual(a.ids);
    expect(b.usage.cachedTokens).toBe(0);
    // A prompt ending exactly where a row's ids end recomputes just the last token.
    const extended = [...ids, ...a.ids.slice(0, 2)];
    const c = await collect(engine.complete({ promptIds: extended, maxTokens: 2, sampling: { temperature: 0 }, stopTokens: [] }));
    expect(c.usage.cachedTokens).toBe(extended.length - 1);
    expect(c.ids[0]).toBe(a.ids[2]);
  });
});
