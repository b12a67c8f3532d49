// /v1/responses with the official openai SDK's `responses.create` and `responses.stream`: plain
// and streamed text, instructions, max_output_tokens (status incomplete), text.format json_schema
// (validated with Ajv), function tools (function_call output items, function_call_output input
// items), usage, and previous_response_id continuing a stored conversation from the prefix cache;
// on random weights and on the briefly trained model (support/trained-model.ts).
import { Ajv } from "ajv";
import type OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MODEL, postJson, startTestServer, WEIGHTS, type TestServer } from "./support/test-server.js";

const person = {
  type: "object",
  properties: { name: { type: "string" }, age: { type: "integer" } },
  required: ["name", "age"],
  additionalProperties: false,
};
const weather = { type: "object", properties: { city: { type: "string" } }, required: ["city"], additionalProperties: false };
const tools: OpenAI.Responses.FunctionTool[] = [{ type: "function", name: "get_weather", description: "The forecast for a city.", parameters: weather, strict: true }];

describe.each(WEIGHTS)("on %s weights", (weights) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ weights, testModel: { config: { maxPositionEmbeddings: 2048 } } });
  });
  afterAll(() => t.stop());

  describe("responses.create", () => {
    it("plain: a message output, output_text, usage", async () => {
      const response = await t.client.responses.create({ model: MODEL, input: "Tell me about the Union.", instructions: "Be brief.", max_output_tokens: 6, temperature: 0 });
      expect(response.id).toMatch(/^resp_/);
      expect(response.object).toBe("response");
      expect(response.output).toHaveLength(1);
      const item = response.output[0]!;
      expect(item.type).toBe("message");
      expect(response.output_text.length).toBeGreaterThan(0);
      expect(response.usage).toMatchObject({ output_tokens: 6, output_tokens_details: { reasoning_tokens: 0 } });
      expect(response.usage!.total_tokens).toBe(response.usage!.input_tokens + 6);
      expect(response.status).toBe("incomplete");
      expect(response.incomplete_details).toEqual({ reason: "max_output_tokens" });
      expect(response.instructions).toBe("Be brief.");
    });

    it("streamed: the API's events in order, and the helper's final response equals the deltas", async () => {
      const stream = await t.client.responses.create({ model: MODEL, input: [{ role: "user", content: "Hello" }], max_output_tokens: 8, temperature: 0, stream: true });
      const types: string[] = [];
      let text = "";
      let sequence = -1;
      for await (const event of stream) {
        types.push(event.type);
        expect(event.sequence_number).toBe(sequence + 1);
        sequence = event.sequence_number;
        if (event.type === "response.output_text.delta") text += event.delta;
        if (event.type === "response.output_text.done") expect(event.text).toBe(text);
      }
      expect(types.slice(0, 4)).toEqual(["response.created", "response.in_progress", "response.output_item.added", "response.content_part.added"]);
      expect(types.slice(-4)).toEqual(["response.output_text.done", "response.content_part.done", "response.output_item.done", "response.incomplete"]);

      const helper = t.client.responses.stream({ model: MODEL, input: "Hello", max_output_tokens: 8, temperature: 0 });
      let deltas = "";
      helper.on("response.output_text.delta", (event) => (deltas += event.delta));
      const final = await helper.finalResponse();
      const message = final.output[0]!;
      expect(message.type === "message" && message.content[0]!.type === "output_text" ? message.content[0]!.text : undefined).toBe(deltas);
      expect(deltas).toBe(text);
    });

    it("text.format json_schema: the output text validates, over several runs", async () => {
      const validate = new Ajv({ strict: false }).compile(person);
      // No seed field in the Responses API: each run draws its own.
      for (let run = 0; run < 3; run++) {
        const response = await t.client.responses.create({ model: MODEL, input: "A citizen as JSON.", max_output_tokens: 60, text: { format: { type: "json_schema", name: "person", schema: person, strict: true } } });
        expect(validate(JSON.parse(response.output_text)), JSON.stringify(validate.errors)).toBe(true);
      }
    });

    it("function tools: a required call is a function_call item; its output continues the conversation", async () => {
      const first = await t.client.responses.create({ model: MODEL, input: "Weather in Paris?", tools, tool_choice: "required", max_output_tokens: 60 });
      expect(first.output).toHaveLength(1);
      const call = first.output[0]!;
      expect(call.type).toBe("function_call");
      if (call.type !== "function_call") return;
      expect(call.name).toBe("get_weather");
      expect(call.call_id).toMatch(/^call_/);
      expect(new Ajv({ strict: false }).validate(weather, JSON.parse(call.arguments))).toBe(true);

      const next = await t.client.responses.create({
        model: MODEL,
        input: [{ role: "user", content: "Weather in Paris?" }, call, { type: "function_call_output", call_id: call.call_id, output: '{"forecast": "rain"}' }],
        tools,
        max_output_tokens: 4,
      });
      expect(next.output[0]!.type).toBe("message");
    });

    it("streamed function call: output_item.added, argument deltas, arguments.done", async () => {
      const stream = await t.client.responses.create({ model: MODEL, input: "Weather?", tools, tool_choice: { type: "function", name: "get_weather" }, max_output_tokens: 60, stream: true });
      let args = "";
      let done = "";
      const types: string[] = [];
      for await (const event of stream) {
        types.push(event.type);
        if (event.type === "response.function_call_arguments.delta") args += event.delta;
        if (event.type === "response.function_call_arguments.done") done = event.arguments;
      }
      expect(types).toContain("response.output_item.added");
      expect(done).toBe(args);
      expect(JSON.parse(done)).toHaveProperty("city");
      expect(types.at(-1)).toBe("response.completed");
    });

    it("previous_response_id continues the stored conversation, its prefix from the cache", async () => {
      const first = await t.client.responses.create({ model: MODEL, input: "Name a state.", instructions: "Answer briefly.", max_output_tokens: 5, temperature: 0 });
      const second = await t.client.responses.create({ model: MODEL, input: "And another?", instructions: "Answer briefly.", previous_response_id: first.id, max_output_tokens: 5, temperature: 0 });
      expect(second.previous_response_id).toBe(first.id);
      expect(second.usage!.input_tokens).toBeGreaterThan(first.usage!.input_tokens + first.usage!.output_tokens);
      expect(second.usage!.input_tokens_details.cached_tokens).toBeGreaterThanOrEqual(first.usage!.input_tokens);
      const stored = await t.client.responses.retrieve(first.id);
      expect(stored.output_text).toBe(first.output_text);
    });

    it("an unknown previous_response_id, an unsupported tool type and an image input are 400s naming them", async () => {
      await expect(t.client.responses.create({ model: MODEL, input: "x", previous_response_id: "resp_missing" })).rejects.toMatchObject({ status: 400, param: "previous_response_id" });
      const post = (body: object) => postJson(`${t.url}/v1/responses`, { model: MODEL, max_output_tokens: 2, ...body });
      const webSearch = await post({ input: "x", tools: [{ type: "web_search" }] });
      expect(webSearch.status).toBe(400);
      expect(webSearch.body.error.param).toBe("tools[0].type");
      const image = await post({ input: [{ role: "user", content: [{ type: "input_image", image_url: "http://x" }] }] });
      expect(image.status).toBe(400);
      expect(image.body.error.param).toBe("input[0].content[0].type");
    });
  });
});
