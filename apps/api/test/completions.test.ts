// The two generation endpoints through the official OpenAI SDK, unchanged: response shapes and
// usage, streaming (the SDK's parser and the raw wire bytes), stop strings, seeds (n choices use
// seed + index), and log-probabilities in both endpoints' formats.
import { chatPromptIds, completionPromptIds } from "@gemma-ts/serve";
import type { CompletionUsage } from "openai/resources/completions";
import type { ChatCompletionChunk } from "openai/resources/chat/completions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MODEL, startTestServer, type TestServer } from "./support/test-server.js";

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(() => t.stop());

/** Usage without cached_tokens, which depends on what earlier requests left in the prefix cache. */
const tokens = (usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number } | null | undefined) => ({
  prompt: usage?.prompt_tokens,
  completion: usage?.completion_tokens,
  total: usage?.total_tokens,
});

const messages = [
  { role: "system" as const, content: "Answer briefly." },
  { role: "user" as const, content: "What did the President say about the Union?" },
];

describe("POST /v1/chat/completions", () => {
  it("answers in OpenAI's shape, with usage counting the rendered prompt", async () => {
    const completion = await t.client.chat.completions.create({ model: MODEL, messages, max_tokens: 12, temperature: 0 });
    expect(completion.id).toMatch(/^chatcmpl-[0-9a-f]+$/);
    expect(completion.object).toBe("chat.completion");
    expect(completion.model).toBe(MODEL);
    expect(Math.abs(completion.created - Date.now() / 1000)).toBeLessThan(60);
    const choice = completion.choices[0]!;
    expect(choice.message.role).toBe("assistant");
    expect(typeof choice.message.content).toBe("string");
    expect(choice.finish_reason).toBe("length"); // greedy text with no stop token within 12
    // The system message is folded into the first user turn (Gemma has no system role).
    const promptTokens = chatPromptIds(t.model.tokenizer, [{ role: "user", content: `${messages[0]!.content}\n\n${messages[1]!.content}` }]).length;
    expect(completion.usage).toMatchObject({ prompt_tokens: promptTokens, total_tokens: promptTokens + completion.usage!.completion_tokens });
    expect(completion.usage!.completion_tokens).toBeGreaterThan(0);
    expect(completion.usage!.completion_tokens).toBe(12);
    expect(completion.usage!.prompt_tokens_details?.cached_tokens).toBeGreaterThanOrEqual(0);
  });

  it("streams the same greedy text, role first, finish_reason last, then usage", async () => {
    const whole = await t.client.chat.completions.create({ model: MODEL, messages, max_tokens: 16, temperature: 0 });
    const stream = await t.client.chat.completions.create({ model: MODEL, messages, max_tokens: 16, temperature: 0, stream: true, stream_options: { include_usage: true } });
    const chunks: ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks[0]!.choices[0]!.delta.role).toBe("assistant");
    expect(chunks.every((chunk) => chunk.object === "chat.completion.chunk" && chunk.id === chunks[0]!.id)).toBe(true);
    const text = chunks.map((chunk) => chunk.choices[0]?.delta.content ?? "").join("");
    expect(text).toBe(whole.choices[0]!.message.content);
    const withChoices = chunks.filter((chunk) => chunk.choices.length > 0);
    expect(withChoices.at(-1)!.choices[0]!.finish_reason).toBe(whole.choices[0]!.finish_reason);
    expect(withChoices.slice(0, -1).every((chunk) => chunk.choices[0]!.finish_reason === null)).toBe(true);
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(chunks.slice(0, -1).every((chunk) => chunk.usage === null)).toBe(true);
    expect(tokens(last.usage)).toEqual(tokens(whole.usage));
  });

  it("writes OpenAI's SSE wire format byte for byte: data lines, blank-line separated, [DONE] last", async () => {
    const response = await fetch(`${t.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: MODEL, messages, max_tokens: 4, stream: true }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const raw = await response.text();
    expect(raw.endsWith("data: [DONE]\n\n")).toBe(true);
    const events = raw.split("\n\n").filter(Boolean);
    for (const event of events) expect(event).toMatch(/^data: /);
    const payloads = events.slice(0, -1).map((event) => JSON.parse(event.slice("data: ".length)));
    expect(payloads.at(-1).choices[0].delta).toEqual({});
    expect(payloads.some((payload) => "usage" in payload)).toBe(false); // not asked for
  });

  it("ends before the first stop string, and never emits it", async () => {
    const full = (await t.client.chat.completions.create({ model: MODEL, messages, max_tokens: 40, temperature: 0 })).choices[0]!.message.content!;
    const middle = Math.floor(full.length / 2);
    const stop = full.slice(middle, middle + 3);
    expect(stop.length).toBe(3);
    const stopped = await t.client.chat.completions.create({ model: MODEL, messages, max_tokens: 40, temperature: 0, stop: [stop, "\u0000never"] });
    expect(stopped.choices[0]!.message.content).toBe(full.slice(0, full.indexOf(stop)));
    expect(stopped.choices[0]!.finish_reason).toBe("stop");
    expect(stopped.usage!.completion_tokens).toBeLessThan(40);
    const streamed = await t.client.chat.completions.create({ model: MODEL, messages, max_tokens: 40, temperature: 0, stop, stream: true });
    let text = "";
    for await (const chunk of streamed) text += chunk.choices[0]?.delta.content ?? "";
    expect(text).toBe(full.slice(0, full.indexOf(stop)));
  });

  it("gives the same text for the same seed, and n choices the texts of seeds seed + i", async () => {
    const ask = (seed: number, n = 1) => t.client.chat.completions.create({ model: MODEL, messages, max_tokens: 12, temperature: 1, seed, n });
    const first = await ask(7);
    const again = await ask(7);
    expect(again.choices[0]!.message.content).toBe(first.choices[0]!.message.content);
    const three = await ask(7, 3);
    expect(three.choices.map((choice) => choice.index)).toEqual([0, 1, 2]);
    expect(three.choices[0]!.message.content).toBe(first.choices[0]!.message.content);
    expect(three.choices[1]!.message.content).toBe((await ask(8)).choices[0]!.message.content);
    expect(three.choices[2]!.message.content).toBe((await ask(9)).choices[0]!.message.content);
    expect(new Set(three.choices.map((choice) => choice.message.content)).size).toBeGreaterThan(1);
    expect(three.usage!.prompt_tokens).toBe(first.usage!.prompt_tokens);
    // Streamed, the choices interleave, each opening with the role and closing with its reason.
    const stream = await t.client.chat.completions.create({ model: MODEL, messages, max_tokens: 12, temperature: 1, seed: 7, n: 3, stream: true, stream_options: { include_usage: true } });
    const texts = ["", "", ""];
    const roles: number[] = [];
    const finished: number[] = [];
    let usage: CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      for (const choice of chunk.choices) {
        if (choice.delta.role) roles.push(choice.index);
        texts[choice.index] += choice.delta.content ?? "";
        if (choice.finish_reason) finished.push(choice.index);
      }
      usage = chunk.usage ?? usage;
    }
    expect(texts).toEqual(three.choices.map((choice) => choice.message.content));
    expect(roles.sort()).toEqual([0, 1, 2]);
    expect(finished.sort()).toEqual([0, 1, 2]);
    expect(tokens(usage)).toEqual(tokens(three.usage));
  });

  it("reports logprobs with top_logprobs, consistent with the text and with greedy choice", async () => {
    const completion = await t.client.chat.completions.create({ model: MODEL, messages, max_tokens: 10, temperature: 0, logprobs: true, top_logprobs: 3 });
    const content = completion.choices[0]!.logprobs!.content!;
    expect(content.length).toBe(completion.usage!.completion_tokens);
    for (const entry of content) {
      expect(entry.logprob).toBeLessThanOrEqual(0);
      expect(entry.top_logprobs.length).toBe(3);
      const values = entry.top_logprobs.map((top) => top.logprob);
      expect([...values].sort((a, b) => b - a)).toEqual(values);
      // Greedy: the chosen token is the most likely one.
      expect(entry.token).toBe(entry.top_logprobs[0]!.token);
      expect(entry.logprob).toBeCloseTo(entry.top_logprobs[0]!.logprob, 6);
      expect(entry.bytes!.length).toBeGreaterThan(0);
    }
    const text = completion.choices[0]!.message.content!;
    const textual = content.filter((entry) => !/^<.*>$/.test(entry.token) && !entry.token.startsWith("bytes:"));
    for (const entry of textual) expect(text).toContain(entry.token);
    // Streamed, the same entries arrive spread over the chunks.
    const stream = await t.client.chat.completions.create({ model: MODEL, messages, max_tokens: 10, temperature: 0, logprobs: true, top_logprobs: 3, stream: true });
    const streamed = [];
    for await (const chunk of stream) streamed.push(...(chunk.choices[0]?.logprobs?.content ?? []));
    expect(streamed).toEqual(content);
  });
});

describe("prefix cache", () => {
  it("reports the prompt tokens a longer prompt reused from an earlier one as cached_tokens", async () => {
    // max_tokens 1: the engine's row then holds exactly the first prompt, which the second extends.
    const base = "We hold these truths to be self-evident";
    const first = await t.client.completions.create({ model: MODEL, prompt: base, max_tokens: 1, temperature: 0 });
    const second = await t.client.completions.create({ model: MODEL, prompt: `${base}, that all men are created equal`, max_tokens: 1, temperature: 0 });
    expect(second.usage!.prompt_tokens_details!.cached_tokens).toBe(first.usage!.prompt_tokens);
    expect(second.usage!.prompt_tokens).toBeGreaterThan(first.usage!.prompt_tokens);
  });
});

describe("POST /v1/completions", () => {
  const prompt = "Fellow citizens of the Senate";

  it("continues <bos> + prompt, streamed or not, with the same greedy text", async () => {
    const whole = await t.client.completions.create({ model: MODEL, prompt, max_tokens: 16, temperature: 0 });
    expect(whole.id).toMatch(/^cmpl-/);
    expect(whole.object).toBe("text_completion");
    expect(whole.usage!.prompt_tokens).toBe(completionPromptIds(t.model.tokenizer, prompt).length);
    expect(completionPromptIds(t.model.tokenizer, prompt)[0]).toBe(t.model.tokenizer.special.bos);
    const stream = await t.client.completions.create({ model: MODEL, prompt, max_tokens: 16, temperature: 0, stream: true, stream_options: { include_usage: true } });
    let text = "";
    let finish: string | null = null;
    let usage: CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.text ?? "";
      finish = chunk.choices[0]?.finish_reason ?? finish;
      usage = chunk.usage ?? usage;
    }
    expect(text).toBe(whole.choices[0]!.text);
    expect(finish).toBe(whole.choices[0]!.finish_reason);
    expect(tokens(usage)).toEqual(tokens(whole.usage));
  });

  it("honours max_tokens with finish_reason length", async () => {
    const completion = await t.client.completions.create({ model: MODEL, prompt, max_tokens: 3, temperature: 0, stop: null });
    expect(completion.choices[0]!.finish_reason).toBe("length");
    expect(completion.usage!.completion_tokens).toBe(3);
  });

  it("reports legacy logprobs as parallel arrays with text offsets", async () => {
    const completion = await t.client.completions.create({ model: MODEL, prompt, max_tokens: 8, temperature: 0, logprobs: 2 });
    const logprobs = completion.choices[0]!.logprobs!;
    const n = completion.usage!.completion_tokens;
    expect(logprobs.tokens!.length).toBe(n);
    expect(logprobs.token_logprobs!.length).toBe(n);
    expect(logprobs.top_logprobs!.length).toBe(n);
    expect(logprobs.text_offset!.length).toBe(n);
    logprobs.top_logprobs!.forEach((top, i) => {
      expect(Object.keys(top).length).toBeLessThanOrEqual(2);
      expect(Math.max(...Object.values(top))).toBeCloseTo(logprobs.token_logprobs![i]!, 6);
    });
    for (let i = 1; i < n; i++) expect(logprobs.text_offset![i]!).toBeGreaterThanOrEqual(logprobs.text_offset![i - 1]!);
  });
});

describe("GET /v1/models and /health", () => {
  it("lists the model and reports the engine idle", async () => {
    const models = [];
    for await (const model of t.client.models.list()) models.push(model);
    expect(models.map((model) => model.id)).toEqual([MODEL]);
    expect(models[0]).toMatchObject({ object: "model", owned_by: "gemma-ts" });
    expect((await t.client.models.retrieve(MODEL)).id).toBe(MODEL);
    const health = await (await fetch(`${t.url}/health`)).json();
    expect(health).toMatchObject({ status: "ok", in_flight: 0, models: [{ id: MODEL, running: 0, queued: 0 }] });
  });
});
