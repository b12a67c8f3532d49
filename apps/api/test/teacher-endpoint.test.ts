// The server as a distillation teacher: /v1/completions with echo + logprobs (OpenAI's legacy
// prompt scoring, max_tokens 0 included) and vLLM's prompt_logprobs, prompts given as text or as
// token ids (alone or batched), checked against one plain forward pass of the served checkpoint
// with a host log-softmax, on a model whose final soft-cap bends its logits; batched prompts in
// OpenAI's choice order; streamed echo; a 400 for each malformed or oversized prompt.
import { join } from "node:path";
import { Gemma2Model } from "@gemma-ts/core";
import { loadHfCheckpoint, OnnxBackend } from "@gemma-ts/core/node";
import { completionPromptIds, REQUEST_LIMITS, TokenVocabulary } from "@gemma-ts/serve";
import type { CompletionChoice } from "openai/resources/completions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MODEL, postJson, startTestServer, type TestServer } from "./support/test-server.js";

/** Low enough that tanh bends the random model's logits (checked below). */
const SOFT_CAP = 0.3;

let t: TestServer;
let plain: Gemma2Model;
let uncapped: Gemma2Model;
let vocabulary: TokenVocabulary;
let V: number;

beforeAll(async () => {
  t = await startTestServer({ testModel: { config: { finalLogitSoftcapping: SOFT_CAP } } });
  const { config, params } = await loadHfCheckpoint(join(t.root, MODEL));
  V = config.vocabSize;
  plain = new Gemma2Model(config, params, new OnnxBackend({ intraOpThreads: 1 }));
  uncapped = new Gemma2Model({ ...config, finalLogitSoftcapping: null }, params, new OnnxBackend({ intraOpThreads: 1 }));
  vocabulary = new TokenVocabulary(t.model.tokenizer, V);
});
afterAll(async () => {
  await t.stop();
  await plain.dispose();
  await uncapped.dispose();
});

const completions = (body: object) => postJson(`${t.url}/v1/completions`, { model: MODEL, ...body });
const idsOf = (text: string) => completionPromptIds(t.model.tokenizer, text);

const short = "We hold these truths to be self-evident, that all men are created equal";
/** Longer than the engine's prefill chunk (128), so it is scored over two passes. */
const long = `${short}, that they are endowed by their Creator with certain unalienable Rights. `.repeat(4);

/** Row t: log-softmax of position t's logits in one uncached pass over `ids`, on the host. */
async function reference(ids: readonly number[]): Promise<Float64Array[]> {
  const logits = (await plain.forward([ids])).data;
  return ids.map((_, t) => {
    const row = logits.subarray(t * V, (t + 1) * V);
    let max = Number.NEGATIVE_INFINITY;
    for (const value of row) max = Math.max(max, value);
    let total = 0;
    for (const value of row) total += Math.exp(value - max);
    const lse = max + Math.log(total);
    return Float64Array.from(row, (value) => value - lse);
  });
}

/** Ids by descending log-probability, ties to the lower id. */
const ranked = (row: Float64Array) => Array.from(row.keys()).sort((a, b) => row[b]! - row[a]! || a - b);
const shown = (id: number) => vocabulary.display(id).token;

describe("the teacher endpoint's model", () => {
  it("has a final soft-cap that bends its logits", async () => {
    const ids = idsOf(short);
    const largest = (values: Float32Array) => values.reduce((max, value) => Math.max(max, Math.abs(value)), 0);
    expect(largest((await uncapped.forward([ids])).data)).toBeGreaterThan(1.5 * SOFT_CAP);
    expect(largest((await plain.forward([ids])).data)).toBeLessThan(SOFT_CAP);
  });
});

describe("echo + logprobs (OpenAI's legacy prompt scoring)", () => {
  it("scores every prompt token with max_tokens 0, through the OpenAI SDK, equal to the model within 1e-5", async () => {
    const ids = idsOf(long);
    expect(ids.length).toBeGreaterThan(128);
    const completion = await t.client.completions.create({ model: MODEL, prompt: long, echo: true, logprobs: 5, max_tokens: 0 });
    const choice = completion.choices[0]!;
    expect(choice.text).toBe(long);
    expect(choice.finish_reason).toBe("length");
    expect(completion.usage).toMatchObject({ prompt_tokens: ids.length, completion_tokens: 0, total_tokens: ids.length });
    const logprobs = choice.logprobs!;
    expect(logprobs.tokens).toEqual(ids.map(shown));
    expect(logprobs.token_logprobs![0]).toBeNull();
    expect(logprobs.top_logprobs![0]).toBeNull();
    const expected = await reference(ids);
    for (let i = 1; i < ids.length; i++) {
      const row = expected[i - 1]!;
      expect(Math.abs(logprobs.token_logprobs![i]! - row[ids[i]!]!)).toBeLessThan(1e-5);
      const top = ranked(row).slice(0, 5);
      const alternatives = logprobs.top_logprobs![i]!;
      expect(Object.keys(alternatives).sort()).toEqual(top.map(shown).sort());
      for (const id of top) expect(Math.abs(alternatives[shown(id)]! - row[id]!)).toBeLessThan(1e-5);
    }
    // Offsets index the echoed text: <bos> adds none, every other token starts where its text is.
    expect(logprobs.text_offset![0]).toBe(0);
    for (let i = 1; i < ids.length; i++) expect(long.startsWith(logprobs.tokens![i]!, logprobs.text_offset![i])).toBe(true);
  });

  it("with generation: the prompt's entries, then exactly the plain request's text and logprobs", async () => {
    const ids = idsOf(short);
    const request = { model: MODEL, prompt: short, logprobs: 3, max_tokens: 6, temperature: 0 };
    const alone = await t.client.completions.create(request);
    const echoed = await t.client.completions.create({ ...request, echo: true });
    const generated = alone.choices[0]!;
    const choice = echoed.choices[0]!;
    expect(choice.text).toBe(short + generated.text);
    expect(choice.finish_reason).toBe(generated.finish_reason);
    const logprobs = choice.logprobs!;
    expect(logprobs.tokens!.slice(ids.length)).toEqual(generated.logprobs!.tokens);
    // Equal up to float rounding: the echoed prompt is computed afresh, the plain one maybe from the prefix cache.
    const close = (a: (number | null)[], b: (number | null)[]) => a.forEach((value, i) => expect(Math.abs(value! - b[i]!)).toBeLessThan(1e-6));
    close(logprobs.token_logprobs!.slice(ids.length), generated.logprobs!.token_logprobs!);
    logprobs.top_logprobs!.slice(ids.length).forEach((top, i) => {
      const expected = generated.logprobs!.top_logprobs![i]!;
      expect(Object.keys(top!)).toEqual(Object.keys(expected));
      close(Object.values(top!), Object.values(expected));
    });
    expect(logprobs.text_offset!.slice(ids.length)).toEqual(generated.logprobs!.text_offset!.map((offset) => offset + short.length));
    expect(echoed.usage).toMatchObject({ prompt_tokens: ids.length, completion_tokens: alone.usage!.completion_tokens });
  });

  it("echo alone repeats the prompt before the completion; max_tokens 0 repeats just the prompt", async () => {
    const alone = await t.client.completions.create({ model: MODEL, prompt: short, max_tokens: 4, temperature: 0 });
    const echoed = await t.client.completions.create({ model: MODEL, prompt: short, max_tokens: 4, temperature: 0, echo: true });
    expect(echoed.choices[0]!.text).toBe(short + alone.choices[0]!.text);
    expect(echoed.choices[0]!.logprobs).toBeNull();
    const scoreOnly = await t.client.completions.create({ model: MODEL, prompt: short, max_tokens: 0, echo: true });
    expect(scoreOnly.choices[0]).toMatchObject({ text: short, finish_reason: "length", logprobs: null });
  });

  it("streams the echo (text and prompt logprobs) in the choice's first event, adding up to the whole", async () => {
    const request = { model: MODEL, prompt: short, logprobs: 2, max_tokens: 5, temperature: 0, echo: true };
    const whole = await t.client.completions.create(request);
    const stream = await t.client.completions.create({ ...request, stream: true });
    const events: CompletionChoice[] = [];
    for await (const event of stream) events.push(event.choices[0]!);
    expect(events[0]!.text.startsWith(short)).toBe(true);
    expect(events[0]!.logprobs!.tokens!.length).toBeGreaterThanOrEqual(idsOf(short).length);
    expect(events.map((event) => event.text).join("")).toBe(whole.choices[0]!.text);
    const joined = (field: "tokens" | "token_logprobs" | "top_logprobs" | "text_offset") => events.flatMap((event) => (event.logprobs?.[field] ?? []) as unknown[]);
    for (const field of ["tokens", "token_logprobs", "top_logprobs", "text_offset"] as const) expect(joined(field)).toEqual(whole.choices[0]!.logprobs![field]);
    expect(events.at(-1)!.finish_reason).toBe(whole.choices[0]!.finish_reason);
  });
});

describe("prompt_logprobs (vLLM's extension)", () => {
  it("lists per prompt token its own log-probability and rank and the top k, keyed by id, equal to the model", async () => {
    const ids = idsOf(long);
    const { status, body } = await completions({ prompt: long, prompt_logprobs: 4, max_tokens: 1, temperature: 0 });
    expect(status).toBe(200);
    const choice = body.choices[0];
    expect(choice.text).not.toContain(short); // no echo asked for
    const scored = choice.prompt_logprobs as (Record<string, { logprob: number; rank: number; decoded_token: string }> | null)[];
    expect(scored).toHaveLength(ids.length);
    expect(scored[0]).toBeNull();
    const expected = await reference(ids);
    for (let i = 1; i < ids.length; i++) {
      const row = expected[i - 1]!;
      const order = ranked(row);
      const top = order.slice(0, 4);
      const keys = [...new Set([ids[i]!, ...top])].map(String).sort();
      expect(Object.keys(scored[i]!).sort()).toEqual(keys);
      const own = scored[i]![String(ids[i])]!;
      expect(own.rank).toBe(1 + row.filter((value) => value > row[ids[i]!]!).length);
      expect(own.decoded_token).toBe(shown(ids[i]!));
      expect(Math.abs(own.logprob - row[ids[i]!]!)).toBeLessThan(1e-5);
      top.forEach((id, rank) => {
        const entry = scored[i]![String(id)]!;
        expect(Math.abs(entry.logprob - row[id]!)).toBeLessThan(1e-5);
        if (id !== ids[i]) expect(entry.rank).toBe(rank + 1);
      });
    }
  });
});

describe("token-id prompts", () => {
  it("score exactly the ids given, as the same text does, alone (number[]) or batched (number[][])", async () => {
    const ids = idsOf(short);
    const fromText = await completions({ prompt: short, echo: true, logprobs: 3, prompt_logprobs: 3, max_tokens: 0 });
    const fromIds = await completions({ prompt: ids, echo: true, logprobs: 3, prompt_logprobs: 3, max_tokens: 0 });
    const batched = await completions({ prompt: [ids, ids.slice(0, 5)], echo: true, logprobs: 3, prompt_logprobs: 3, max_tokens: 0 });
    for (const response of [fromText, fromIds, batched]) expect(response.status).toBe(200);
    const strip = (choice: any) => ({ logprobs: choice.logprobs, prompt_logprobs: choice.prompt_logprobs });
    expect(strip(fromIds.body.choices[0])).toEqual(strip(fromText.body.choices[0]));
    expect(strip(batched.body.choices[0])).toEqual(strip(fromText.body.choices[0]));
    expect(fromIds.body.choices[0].text).toBe(short); // the ids decoded: this tokenizer round-trips
    expect(fromIds.body.usage.prompt_tokens).toBe(ids.length);
    expect(batched.body.choices[1].logprobs.tokens).toEqual(ids.slice(0, 5).map(shown));
    expect(batched.body.usage.prompt_tokens).toBe(ids.length + 5);
  });

  it("are used as given: no <bos> is added", async () => {
    const ids = idsOf(short).slice(1);
    const { body } = await completions({ prompt: ids, prompt_logprobs: 0, max_tokens: 1 });
    expect(body.usage.prompt_tokens).toBe(ids.length);
    expect(body.choices[0].prompt_logprobs).toHaveLength(ids.length);
  });
});

describe("a batch of prompts", () => {
  it("answers n choices per prompt in OpenAI's order (prompt-major), each as the prompt alone would get", async () => {
    const prompts = ["Four score and seven years ago", "Ask not what your country", "The only thing we have to fear"];
    const { status, body } = await completions({ prompt: prompts, n: 2, max_tokens: 4, temperature: 1, seed: 11, echo: true });
    expect(status).toBe(200);
    expect(body.choices.map((choice: any) => choice.index)).toEqual([0, 1, 2, 3, 4, 5]);
    for (const [i, prompt] of prompts.entries()) {
      const alone = (await completions({ prompt, n: 2, max_tokens: 4, temperature: 1, seed: 11, echo: true })).body;
      expect(body.choices.slice(2 * i, 2 * i + 2).map((choice: any) => choice.text)).toEqual(alone.choices.map((choice: any) => choice.text));
      for (const choice of body.choices.slice(2 * i, 2 * i + 2)) expect(choice.text.startsWith(prompt)).toBe(true);
    }
    const promptTokens = prompts.reduce((sum, prompt) => sum + idsOf(prompt).length, 0);
    expect(body.usage.prompt_tokens).toBe(promptTokens);
    expect(body.usage.total_tokens).toBe(promptTokens + body.usage.completion_tokens);
  });
});

describe("malformed or oversized prompts get OpenAI's 400", () => {
  const expect400 = async (body: object, param: string, pattern?: RegExp) => {
    const response = await completions({ max_tokens: 1, ...body });
    expect(response.status).toBe(400);
    expect(response.body.error).toMatchObject({ type: "invalid_request_error", param });
    if (pattern) expect(response.body.error.message).toMatch(pattern);
  };

  it("names a token id outside the vocabulary, alone or in a batch", async () => {
    await expect400({ prompt: [2, 5, V] }, "prompt[2]", new RegExp(`${V} is not a token id`));
    await expect400({ prompt: [[2, 5], [2, 1e6]] }, "prompt[1][1]", /1000000 is not a token id/);
    await expect400({ prompt: [2, -1] }, "prompt[1]");
    await expect400({ prompt: [2, 1.5] }, "prompt[1]");
  });

  it("refuses empty prompts, mixed forms, and prompt lists or token lists past REQUEST_LIMITS", async () => {
    await expect400({ prompt: [] }, "prompt", /empty/);
    await expect400({ prompt: [[2, 3], []] }, "prompt[1]", /empty/);
    await expect400({ prompt: ["a", 3] }, "prompt[1]");
    await expect400({ prompt: Array.from({ length: REQUEST_LIMITS.prompts.max + 1 }, () => "a") }, "prompt", /at most 64 prompts/);
    await expect400({ prompt: new Array(REQUEST_LIMITS.promptTokens.max + 1).fill(2) }, "prompt", /at most 131072 token ids/);
    await expect400({ prompt: new Array(300).fill(2) }, "prompt", /maximum context length/);
    await expect400({ prompt: [[2, 3], new Array(300).fill(2)] }, "prompt[1]", /maximum context length/);
    await expect400({}, "prompt", /Missing required parameter/);
    // A list nested thousands deep where a token id belongs (found by the request-body fuzzer: a 500).
    const depth = 20_000;
    const body = `{"model":"${MODEL}","max_tokens":1,"prompt":[[2,3],[2,${"[".repeat(depth)}2${"]".repeat(depth)}]]}`;
    const response = await fetch(`${t.url}/v1/completions`, { method: "POST", headers: { "content-type": "application/json" }, body });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { param: string; message: string } }).error).toMatchObject({ param: "prompt[1][1]", message: expect.stringMatching(/got a list/) });
  });

  it("refuses max_tokens 0 without echo, and prompt_logprobs past its limit", async () => {
    await expect400({ prompt: "x", max_tokens: 0 }, "max_tokens");
    await expect400({ prompt: "x", prompt_logprobs: REQUEST_LIMITS.promptLogprobs.max + 1 }, "prompt_logprobs");
    expect((await completions({ prompt: "x", prompt_logprobs: REQUEST_LIMITS.promptLogprobs.max, max_tokens: 1 })).status).toBe(200);
  });
});
