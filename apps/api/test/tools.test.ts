// Tool calling on /v1/chat/completions with the official openai SDK, on random weights and on the
// briefly trained model: required and named calls are constrained, so their arguments parse and
// validate (Ajv) against the function's parameters whatever the model prefers; auto answers in
// text on random weights and with a call on the trained model, streamed as it is answered whole;
// the SDK's stream helper assembles the tool-call deltas; a conversation with the call and its
// result renders for the next turn; an unsupported tool type is a 400 naming it.
import { Ajv } from "ajv";
import type OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MODEL, postJson, startTestServer, WEIGHTS, type TestServer } from "./support/test-server.js";

const weather = {
  type: "object",
  properties: { city: { type: "string" }, unit: { enum: ["celsius", "fahrenheit"] }, days: { type: "integer" } },
  required: ["city", "unit", "days"],
  additionalProperties: false,
};
const lookup = {
  type: "object",
  properties: { query: { type: "string" }, exact: { type: "boolean" } },
  required: ["query", "exact"],
  additionalProperties: false,
};
const tools: OpenAI.Chat.ChatCompletionTool[] = [
  { type: "function", function: { name: "get_weather", description: "The forecast for a city.", parameters: weather } },
  { type: "function", function: { name: "lookup", description: "Search the archive.", parameters: lookup } },
];
const ajv = new Ajv({ strict: false });
const validators: Record<string, ReturnType<Ajv["compile"]>> = { get_weather: ajv.compile(weather), lookup: ajv.compile(lookup) };
const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [{ role: "user", content: "What is the weather in Paris for the next 3 days?" }];

function expectValidCall(call: OpenAI.Chat.ChatCompletionMessageToolCall | undefined, name?: string): void {
  expect(call?.type).toBe("function");
  if (call?.type !== "function") return;
  expect(call.id).toMatch(/^call_/);
  if (name) expect(call.function.name).toBe(name);
  const validate = validators[call.function.name]!;
  expect(validate(JSON.parse(call.function.arguments)), JSON.stringify(validate.errors)).toBe(true);
}

describe.each(WEIGHTS)("on %s weights", (weights) => {
  let t: TestServer;
  beforeAll(async () => {
    // The tool list takes ~400-500 tokens of the 1000-token vocabularies: more context than the preset's 256.
    t = await startTestServer({ weights, testModel: { config: { maxPositionEmbeddings: 2048 } } });
  });
  afterAll(() => t.stop());

  describe("tool_choice", () => {
    it("required: one call to a declared function whose arguments validate, at several seeds", async () => {
      const names = new Set<string>();
      for (const seed of [1, 2, 3, 4]) {
        const completion = await t.client.chat.completions.create({ model: MODEL, messages, tools, tool_choice: "required", max_tokens: 80, seed });
        const choice = completion.choices[0]!;
        expect(choice.finish_reason).toBe("tool_calls");
        expect(choice.message.content).toBeNull();
        expect(choice.message.tool_calls).toHaveLength(1);
        expectValidCall(choice.message.tool_calls![0], undefined);
        names.add((choice.message.tool_calls![0] as { function: { name: string } }).function.name);
        expect(completion.usage!.completion_tokens).toBeGreaterThan(0);
      }
      expect([...names].every((name) => name in validators)).toBe(true);
    });

    it("a named function is the one called", async () => {
      for (const seed of [5, 6]) {
        const completion = await t.client.chat.completions.create({ model: MODEL, messages, tools, tool_choice: { type: "function", function: { name: "lookup" } }, max_tokens: 80, seed });
        expectValidCall(completion.choices[0]!.message.tool_calls![0], "lookup");
      }
    });

    it("none: text content and no calls", async () => {
      const completion = await t.client.chat.completions.create({ model: MODEL, messages, tools, tool_choice: "none", max_tokens: 8, seed: 7 });
      const choice = completion.choices[0]!;
      expect(choice.message.tool_calls ?? []).toHaveLength(0);
      expect(typeof choice.message.content).toBe("string");
      expect(["stop", "length"]).toContain(choice.finish_reason);
    });

    it("auto: random weights answer in text; the trained model calls a declared function", async () => {
      const completion = await t.client.chat.completions.create({ model: MODEL, messages, tools, tool_choice: "auto", max_tokens: 80, temperature: 0 });
      const choice = completion.choices[0]!;
      if (weights === "random") {
        expect(choice.message.tool_calls ?? []).toHaveLength(0);
        expect(typeof choice.message.content).toBe("string");
        expect(["stop", "length"]).toContain(choice.finish_reason);
        return;
      }
      expect(choice.finish_reason).toBe("tool_calls");
      expect(choice.message.content).toBeNull();
      const call = choice.message.tool_calls?.[0];
      expect(call?.type).toBe("function");
      if (call?.type !== "function") return;
      expect(call.id).toMatch(/^call_/);
      expect(Object.keys(validators)).toContain(call.function.name);
      // Under auto nothing constrains the arguments: they are an object, not necessarily a valid one.
      const args: unknown = JSON.parse(call.function.arguments);
      expect(typeof args === "object" && args !== null && !Array.isArray(args)).toBe(true);
    });

    it("auto, streamed: the deltas make the unstreamed answer, and no call text leaks into content", async () => {
      const body = { model: MODEL, messages, tools, tool_choice: "auto" as const, max_tokens: 80, temperature: 0 };
      const whole = (await t.client.chat.completions.create(body)).choices[0]!;
      const stream = await t.client.chat.completions.create({ ...body, stream: true });
      let content = "";
      const deltas: OpenAI.Chat.ChatCompletionChunk.Choice.Delta.ToolCall[] = [];
      let finish: string | null = null;
      for await (const chunk of stream) {
        content += chunk.choices[0]?.delta.content ?? "";
        deltas.push(...(chunk.choices[0]?.delta.tool_calls ?? []));
        finish = chunk.choices[0]?.finish_reason ?? finish;
      }
      expect(finish).toBe(whole.finish_reason);
      expect(content).toBe(whole.message.content ?? "");
      const streamed: string[][] = [];
      for (const delta of deltas) {
        const [name, args] = streamed[delta.index] ?? ["", ""];
        streamed[delta.index] = [name + (delta.function?.name ?? ""), args + (delta.function?.arguments ?? "")];
      }
      expect(streamed).toEqual((whole.message.tool_calls ?? []).map((call) => (call.type === "function" ? [call.function.name, call.function.arguments] : [])));
    });

    it("the tools reach the prompt under auto and not under none", async () => {
      const usage = async (tool_choice: "none" | "auto") => (await t.client.chat.completions.create({ model: MODEL, messages, tools, tool_choice, max_tokens: 1, seed: 1 })).usage!.prompt_tokens;
      const plain = (await t.client.chat.completions.create({ model: MODEL, messages, max_tokens: 1, seed: 1 })).usage!.prompt_tokens;
      expect(await usage("none")).toBe(plain);
      expect(await usage("auto")).toBeGreaterThan(plain + 50);
    });

    it("streamed: the SDK's stream helper assembles the call from OpenAI's tool-call deltas", async () => {
      const stream = t.client.chat.completions.stream({ model: MODEL, messages, tools, tool_choice: { type: "function", function: { name: "get_weather" } }, max_tokens: 80, seed: 8 });
      let argumentDeltas = 0;
      stream.on("tool_calls.function.arguments.delta", () => argumentDeltas++);
      const completion = await stream.finalChatCompletion();
      const choice = completion.choices[0]!;
      expect(choice.finish_reason).toBe("tool_calls");
      expectValidCall(choice.message.tool_calls![0], "get_weather");
      expect(argumentDeltas).toBeGreaterThan(1);
    });

    it("streamed events: the first tool-call delta has index, id, type and name; the last finish_reason is tool_calls", async () => {
      const stream = await t.client.chat.completions.create({ model: MODEL, messages, tools, tool_choice: "required", max_tokens: 80, seed: 9, stream: true });
      const deltas: OpenAI.Chat.ChatCompletionChunk.Choice.Delta.ToolCall[] = [];
      let finish: string | null = null;
      for await (const chunk of stream) {
        deltas.push(...(chunk.choices[0]?.delta.tool_calls ?? []));
        finish = chunk.choices[0]?.finish_reason ?? finish;
      }
      expect(deltas[0]).toMatchObject({ index: 0, type: "function", id: expect.stringMatching(/^call_/), function: { name: expect.any(String) } });
      expect(deltas.slice(1).every((delta) => delta.index === 0 && delta.id === undefined)).toBe(true);
      const args = deltas.map((delta) => delta.function?.arguments ?? "").join("");
      expect(validators[deltas[0]!.function!.name!]!(JSON.parse(args))).toBe(true);
      expect(finish).toBe("tool_calls");
    });

    it("a conversation holding the call and its result renders for the next turn", async () => {
      const first = await t.client.chat.completions.create({ model: MODEL, messages, tools, tool_choice: "required", max_tokens: 80, seed: 10 });
      const call = first.choices[0]!.message.tool_calls![0]!;
      const next = await t.client.chat.completions.create({
        model: MODEL,
        tools,
        max_tokens: 6,
        seed: 10,
        messages: [...messages, first.choices[0]!.message, { role: "tool", tool_call_id: call.id, content: '{"forecast": "sunny"}' }],
      });
      expect(next.choices[0]!.message.role).toBe("assistant");
      // The second prompt extends the first one's (its prompt, the call and the result): the prefix is reused.
      expect(next.usage!.prompt_tokens).toBeGreaterThan(first.usage!.prompt_tokens);
    });

    it("parallel_tool_calls false under required still gives exactly one call", async () => {
      const completion = await t.client.chat.completions.create({ model: MODEL, messages, tools, tool_choice: "required", parallel_tool_calls: false, max_tokens: 80, seed: 11 });
      expect(completion.choices[0]!.message.tool_calls).toHaveLength(1);
    });
  });

  describe("refusals", () => {
    const chat = (body: object) => postJson(`${t.url}/v1/chat/completions`, { model: MODEL, messages, max_tokens: 4, ...body });

    it.each([
      ["an unsupported tool type", { tools: [{ type: "code_interpreter" }] }, "tools[0].type"],
      ["a function without a name", { tools: [{ type: "function", function: { description: "x" } }] }, "tools[0].function.name"],
      ["a name twice", { tools: [tools[0], tools[0]] }, "tools[1].function.name"],
      ["a named choice not declared", { tools, tool_choice: { type: "function", function: { name: "nope" } } }, "tool_choice"],
      ["required without tools", { tool_choice: "required" }, "tool_choice"],
      ["a forced call whose schema cannot be enforced", { tools: [{ type: "function", function: { name: "f", parameters: { type: "object", not: {} } } }], tool_choice: "required" }, "tools[0].function.parameters"],
      ["a tool message without its call id", { messages: [...messages, { role: "assistant", tool_calls: [{ id: "call_1", type: "function", function: { name: "lookup", arguments: "{}" } }] }, { role: "tool", content: "x" }] }, "messages[2].tool_call_id"],
    ])("%s is a 400 naming %s", async (_, body, param) => {
      const response = await chat(body);
      expect(response.status).toBe(400);
      expect(response.body.error).toMatchObject({ type: "invalid_request_error", param });
    });
  });
});
