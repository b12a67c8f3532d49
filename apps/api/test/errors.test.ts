// Everything a client can get wrong gets the right status and OpenAI's error JSON, and the
// server keeps serving afterwards: malformed JSON, wrong types, out-of-range values, unknown or
// path-like model names, oversized bodies, missing or wrong API keys, too many requests at once.
import { mkdirSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { createServer, type GemmaServer, type ServedModel } from "@gemma-ts/serve/http";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeTestModel } from "./support/test-model.js";
import { MODEL, postJson, startTestServer, type TestServer } from "./support/test-server.js";

const KEY = "sk-test-key";
let t: TestServer;
beforeAll(async () => {
  t = await startTestServer({ apiKey: KEY, maxBodyBytes: 64 * 1024, maxTokensLimit: 64 });
});
afterAll(() => t.stop());

const auth = { authorization: `Bearer ${KEY}` };
const chat = (body: unknown, headers: Record<string, string> = auth) => postJson(`${t.url}/v1/chat/completions`, body, headers);
const valid = { model: MODEL, messages: [{ role: "user", content: "Hi" }], max_tokens: 2 };

function expectOpenAiError(response: { status: number; body: any }, status: number, param?: string | null, code?: string) {
  expect(response.status).toBe(status);
  expect(Object.keys(response.body)).toEqual(["error"]);
  expect(Object.keys(response.body.error).sort()).toEqual(["code", "message", "param", "type"]);
  expect(typeof response.body.error.message).toBe("string");
  if (status < 500 && status !== 429) expect(response.body.error.type).toBe("invalid_request_error");
  if (param !== undefined) expect(response.body.error.param).toBe(param);
  if (code !== undefined) expect(response.body.error.code).toBe(code);
}

describe("malformed requests get 400 and the server keeps serving", () => {
  it.each([
    ["not JSON", "{ this is not json", null],
    ["a JSON array", [], null],
    ["no model", { messages: valid.messages }, "model"],
    ["no messages", { model: MODEL }, "messages"],
    ["empty messages", { ...valid, messages: [] }, "messages"],
    ["a number as content", { ...valid, messages: [{ role: "user", content: 5 }] }, "messages[0].content"],
    ["an unknown role", { ...valid, messages: [{ role: "wizard", content: "x" }] }, "messages[0].role"],
    ["a tool message", { ...valid, messages: [{ role: "tool", content: "x" }] }, "messages[0].role"],
    ["temperature as a string", { ...valid, temperature: "hot" }, "temperature"],
    ["temperature out of range", { ...valid, temperature: 3 }, "temperature"],
    ["fractional max_tokens", { ...valid, max_tokens: 1.5 }, "max_tokens"],
    ["max_tokens over the server limit", { ...valid, max_tokens: 65 }, "max_tokens"],
    ["n above 8", { ...valid, n: 9 }, "n"],
    ["stop of the wrong type", { ...valid, stop: 42 }, "stop"],
    ["top_logprobs without logprobs", { ...valid, top_logprobs: 2 }, "top_logprobs"],
    ["top_logprobs above 20", { ...valid, logprobs: true, top_logprobs: 21 }, "top_logprobs"],
    ["an unknown response_format", { ...valid, response_format: { type: "yaml" } }, "response_format.type"],
    ["json_schema without its name", { ...valid, response_format: { type: "json_schema", json_schema: { schema: {} } } }, "response_format.json_schema.name"],
    ["an unsupported tool type", { ...valid, tools: [{ type: "code_interpreter" }] }, "tools[0].type"],
    ["turns that do not alternate", { ...valid, messages: [{ role: "user", content: "a" }, { role: "user", content: "b" }] }, "messages"],
    ["an assistant message last", { ...valid, messages: [{ role: "user", content: "a" }, { role: "assistant", content: "b" }] }, "messages[1].role"],
  ])("%s", async (_, body, param) => {
    expectOpenAiError(await chat(body), 400, param);
    expect((await chat(valid)).status).toBe(200);
  });

  it("completions: a prompt of no accepted form, max_tokens 0 without echo, best_of", async () => {
    const complete = (body: object) => postJson(`${t.url}/v1/completions`, { model: MODEL, max_tokens: 2, ...body }, auth);
    expectOpenAiError(await complete({ prompt: ["a", 1] }), 400, "prompt[1]");
    expectOpenAiError(await complete({ prompt: 5 }), 400, "prompt");
    expectOpenAiError(await complete({ prompt: "x", max_tokens: 0 }), 400, "max_tokens");
    expectOpenAiError(await complete({ prompt: "x", best_of: 3 }), 400, "best_of");
    expectOpenAiError(await complete({ prompt: "x", logprobs: 21 }), 400, "logprobs");
    expect((await complete({ prompt: "x" })).status).toBe(200);
  });

  it("a prompt longer than the context is a 400 context_length_exceeded", async () => {
    const long = "the Union ".repeat(400);
    expectOpenAiError(await chat({ ...valid, messages: [{ role: "user", content: long }] }), 400, "messages", "context_length_exceeded");
  });

  it("the OpenAI SDK raises its BadRequestError with the message", async () => {
    const client = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: KEY, maxRetries: 0 });
    await expect(client.chat.completions.create({ model: MODEL, messages: [], max_tokens: 2 })).rejects.toBeInstanceOf(OpenAI.BadRequestError);
  });
});

describe("models, sizes and keys", () => {
  it("an unknown model is a 404 model_not_found", async () => {
    expectOpenAiError(await chat({ ...valid, model: "gpt-4o" }), 404, "model", "model_not_found");
    const client = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: KEY, maxRetries: 0 });
    await expect(client.models.retrieve("gpt-4o")).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it("a body over the limit is a 413", async () => {
    const huge = { ...valid, messages: [{ role: "user", content: "x".repeat(70 * 1024) }] };
    expectOpenAiError(await chat(huge), 413, null, "request_too_large");
    expect((await chat(valid)).status).toBe(200);
  });

  it("a missing or wrong API key is a 401; /health needs none", async () => {
    expectOpenAiError(await chat(valid, {}), 401, null, "invalid_api_key");
    expectOpenAiError(await chat(valid, { authorization: "Bearer sk-wrong" }), 401, null, "invalid_api_key");
    expectOpenAiError(await chat(valid, { authorization: KEY }), 401, null, "invalid_api_key");
    expect((await fetch(`${t.url}/v1/models`)).status).toBe(401);
    expect((await fetch(`${t.url}/health`)).status).toBe(200);
    const wrong = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: "sk-wrong", maxRetries: 0 });
    await expect(wrong.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
  });

  it("an unknown route is a 404 in OpenAI's shape", async () => {
    const response = await fetch(`${t.url}/v1/embeddings`, { method: "POST", headers: auth });
    expect(response.status).toBe(404);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe("unknown_url");
  });
});

describe("too many concurrent requests", () => {
  it("gets 429 rate_limit_exceeded, and the slot comes back", async () => {
    // The engine's chunks wait for a gate, so the first request holds its slot until released.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const engine = t.model.engine;
    const gated: ServedModel = {
      ...t.model,
      engine: {
        complete(request) {
          const completion = engine.complete(request);
          const chunks = (async function* () {
            await gate;
            yield* completion.chunks;
          })();
          return { chunks, usage: completion.usage };
        },
        stats: () => engine.stats(),
        close: () => engine.close(),
      },
    };
    const server = createServer({ models: [gated], maxConcurrent: 1 });
    const { url } = await server.listen(0);
    try {
      const first = postJson(`${url}/v1/completions`, { model: MODEL, prompt: "The", max_tokens: 4 });
      const inFlight = async () => ((await (await fetch(`${url}/health`)).json()) as { in_flight: number }).in_flight;
      while ((await inFlight()) < 1) await new Promise((resolve) => setTimeout(resolve, 10));
      const second = await postJson(`${url}/v1/completions`, { model: MODEL, prompt: "The", max_tokens: 2 });
      expectOpenAiError(second, 429, null, "rate_limit_exceeded");
      expect(second.body.error.type).toBe("requests");
      release();
      expect((await first).status).toBe(200);
      expect((await postJson(`${url}/v1/completions`, { model: MODEL, prompt: "The", max_tokens: 2 })).status).toBe(200);
    } finally {
      release();
      await server.close();
    }
  });
});

describe("model names never leave the model directory", () => {
  let server: GemmaServer;
  let url: string;
  beforeAll(async () => {
    // root/models/tiny is servable; root/tiny (the test server's own folder) is outside modelDir.
    const modelDir = join(t.root, "models");
    mkdirSync(modelDir);
    await writeTestModel(join(modelDir, MODEL), { seed: 1 });
    symlinkSync("/etc", join(modelDir, "etc-link"));
    server = createServer({ modelDir, engine: { maxBatchSize: 2, threads: 1 } });
    url = (await server.listen(0)).url;
  });
  afterAll(() => server.close());

  it("loads a folder of the directory by name on first use", async () => {
    const response = await postJson(`${url}/v1/completions`, { model: MODEL, prompt: "The", max_tokens: 2 });
    expect(response.status).toBe(200);
    const list = (await (await fetch(`${url}/v1/models`)).json()) as { data: { id: string }[] };
    expect(list.data.map((model) => model.id)).toEqual([MODEL]);
  });

  it.each(["../tiny", "..", ".", "/etc/passwd", `${"../".repeat(8)}etc`, "tiny/../tiny", "tiny/", "..\\tiny", "%2e%2e/tiny", "etc-link", "etc-link/passwd", ".hidden", "tiny\u0000", ""])(
    "refuses %j",
    async (model) => {
      const response = await postJson(`${url}/v1/completions`, { model, prompt: "The", max_tokens: 2 });
      if (model === "") expectOpenAiError(response, 400, "model");
      else expectOpenAiError(response, 404, "model", "model_not_found");
    },
  );
});
