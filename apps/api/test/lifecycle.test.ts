// Requests that end early and servers that stop: a client aborting mid-stream frees its engine
// slot and its request slot; close() lets a running stream finish within the grace period, and
// aborts what is left after it, ending the stream with an error event instead of hanging.
import { RequestAbortedError, type CompletionUsage } from "@gemma-ts/serve";
import { createServer, type GemmaServer, type ServedModel } from "@gemma-ts/serve/http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, MODEL, startTestServer, type TestServer } from "./support/test-server.js";

let t: TestServer;
/** The test model behind a recorder of how each engine request ended. */
let recorded: ServedModel;
let outcomes: Promise<CompletionUsage | Error>[] = [];
let server: GemmaServer;
let url: string;
beforeAll(async () => {
  t = await startTestServer();
  const engine = t.model.engine;
  recorded = {
    ...t.model,
    engine: {
      complete(request) {
        const completion = engine.complete(request);
        outcomes.push(completion.usage.catch((error: Error) => error));
        return completion;
      },
      stats: () => engine.stats(),
      close: () => engine.close(),
    },
  };
  server = createServer({ models: [recorded] });
  url = (await server.listen(0)).url;
});
afterAll(async () => {
  await server.close();
  await t.stop();
});

const long = { model: MODEL, prompt: "The Union", max_tokens: 200, temperature: 1, seed: 3, stream: true, stop: null };

/** Starts a raw streaming request and resolves once its first event has arrived. */
async function startStream(url: string, signal?: AbortSignal) {
  const response = await fetch(`${url}/v1/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(long), ...(signal ? { signal } : {}) });
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let text = decoder.decode((await reader.read()).value, { stream: true });
  return {
    response,
    first: text,
    async rest(): Promise<string> {
      for (let part = await reader.read(); !part.done; part = await reader.read()) text += decoder.decode(part.value, { stream: true });
      return text;
    },
  };
}

describe("a client that disconnects", () => {
  it("aborts its generation in the engine, which frees the slot: running returns to 0", async () => {
    outcomes = [];
    const controller = new AbortController();
    const stream = await startStream(url, controller.signal);
    expect(stream.first).toMatch(/^data: /);
    expect(t.model.engine.stats().running).toBe(1);
    controller.abort();
    // The engine request ended by its signal, not by generating its 200 tokens.
    expect(await outcomes[0]).toBeInstanceOf(RequestAbortedError);
    await eventually(() => t.model.engine.stats().running === 0);
    const health = (await (await fetch(`${url}/health`)).json()) as { in_flight: number };
    expect(health.in_flight).toBe(0);
  });

  it("through the OpenAI SDK: aborting the stream aborts too, and the server keeps serving", async () => {
    outcomes = [];
    const client = t.client.withOptions({ baseURL: `${url}/v1` });
    const stream = await client.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "Hi" }], max_tokens: 200, stream: true, stop: null });
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta.content) stream.controller.abort();
    }
    expect(await outcomes[0]).toBeInstanceOf(RequestAbortedError);
    await eventually(() => t.model.engine.stats().running === 0);
    const after = await t.client.completions.create({ model: MODEL, prompt: "The", max_tokens: 2, temperature: 0 });
    expect(after.choices[0]!.finish_reason).toBe("length");
    expect(after.usage!.completion_tokens).toBe(2);
  });
});

describe("close()", () => {
  it("lets an in-flight stream finish within the grace period, and refuses new connections", async () => {
    const server = createServer({ models: [t.model], shutdownGraceMs: 30_000 });
    const { url } = await server.listen(0);
    const stream = await startStream(url);
    const closed = server.close();
    const text = await stream.rest();
    expect(text.endsWith("data: [DONE]\n\n")).toBe(true);
    await closed;
    await expect(fetch(`${url}/health`)).rejects.toThrow();
  });

  it("aborts what is still running after the grace period, ending its stream with an error event", async () => {
    const server = createServer({ models: [t.model], shutdownGraceMs: 0 });
    const { url } = await server.listen(0);
    const stream = await startStream(url);
    await server.close();
    const text = await stream.rest();
    expect(text).not.toContain("[DONE]");
    expect(text).toContain('"code":"server_shutting_down"');
    await eventually(() => t.model.engine.stats().running === 0);
  });
});
