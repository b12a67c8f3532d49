// response_format: json_schema answers are JSON that parses and validates against the schema
// (checked with ajv), streamed or not, on both endpoints; json_object gives an object; a schema
// the decoder cannot enforce, or a budget too small for any valid JSON, is a 400 before any
// stream starts. On random weights and on the briefly trained model (support/trained-model.ts),
// whose peaked preferences the constraint must overrule, each at several sampling seeds.
import { Ajv } from "ajv";
import addFormatsPlugin from "ajv-formats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MODEL, postJson, startTestServer, WEIGHTS, type TestServer } from "./support/test-server.js";

const schemas: Record<string, object> = {
  person: {
    type: "object",
    properties: { name: { type: "string" }, age: { type: "integer" }, member: { type: "boolean" } },
    required: ["name", "age", "member"],
    additionalProperties: false,
  },
  tagged: {
    type: "object",
    properties: {
      tags: { type: "array", items: { enum: ["red", "green", "blue"] } },
      kind: { const: "report" },
      score: { type: ["number", "null"] },
    },
    required: ["tags", "kind", "score"],
  },
};

const ajv = new Ajv({ strict: false });
const addFormats = addFormatsPlugin as unknown as (ajv: Ajv) => Ajv;
const messages = [{ role: "user" as const, content: "Describe a citizen as JSON." }];

describe.each(WEIGHTS)("on %s weights", (weights) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ weights });
  });
  afterAll(() => t.stop());

  describe("response_format json_schema", () => {
    it.each(Object.keys(schemas))("%s: the content parses and validates, at several seeds", async (name) => {
      const validate = ajv.compile(schemas[name]!);
      for (const seed of [1, 2, 3]) {
        const completion = await t.client.chat.completions.create({
          model: MODEL,
          messages,
          max_tokens: 60,
          seed,
          response_format: { type: "json_schema", json_schema: { name, schema: schemas[name] as Record<string, unknown> } },
        });
        const value = JSON.parse(completion.choices[0]!.message.content!);
        expect(validate(value), JSON.stringify(validate.errors)).toBe(true);
      }
    });

    it("streamed, the concatenated deltas validate", async () => {
      const validate = ajv.compile(schemas.person!);
      const stream = await t.client.chat.completions.create({
        model: MODEL,
        messages,
        max_tokens: 60,
        seed: 4,
        stream: true,
        response_format: { type: "json_schema", json_schema: { name: "person", schema: schemas.person as Record<string, unknown> } },
      });
      let text = "";
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
      expect(validate(JSON.parse(text))).toBe(true);
    });

    it("holds on the completions endpoint too; a budget too small for the shortest JSON is a 400", async () => {
      const validate = ajv.compile(schemas.tagged!);
      const ask = (max_tokens: number) =>
        postJson(`${t.url}/v1/completions`, {
          model: MODEL,
          prompt: "Report:",
          max_tokens,
          seed: 5,
          response_format: { type: "json_schema", json_schema: { name: "tagged", schema: schemas.tagged } },
        });
      const response = await ask(48);
      expect(response.status).toBe(200);
      expect(validate(JSON.parse(response.body.choices[0].text))).toBe(true);
      const tight = await ask(2);
      expect(tight.status).toBe(400);
      expect(tight.body.error.param).toBe("max_tokens");
    });

    it("json_object gives a JSON object", async () => {
      const completion = await t.client.chat.completions.create({ model: MODEL, messages, max_tokens: 40, seed: 6, response_format: { type: "json_object" } });
      const value = JSON.parse(completion.choices[0]!.message.content!);
      expect(typeof value === "object" && value !== null && !Array.isArray(value)).toBe(true);
    });

    it("a schema keyword the decoder cannot enforce is a 400, streamed or not", async () => {
      const body = {
        model: MODEL,
        messages,
        max_tokens: 10,
        response_format: { type: "json_schema", json_schema: { name: "s", schema: { type: "string", pattern: "^(a)\\1$" } } },
      };
      for (const stream of [false, true]) {
        const response = await postJson(`${t.url}/v1/chat/completions`, { ...body, stream });
        expect(response.status).toBe(400);
        expect(response.body.error).toMatchObject({ type: "invalid_request_error", param: "response_format", code: "unsupported_schema" });
        expect(response.body.error.message).toMatch(/backreference/);
      }
      const uri = await postJson(`${t.url}/v1/chat/completions`, { ...body, response_format: { type: "json_schema", json_schema: { name: "s", schema: { type: "string", format: "uri" } } } });
      expect(uri.status).toBe(400);
      expect(uri.body.error.message).toMatch(/format "uri" is not supported/);
    });

    it("bounds, lengths, item counts, patterns and formats hold over seeds (Ajv with ajv-formats)", async () => {
      const schema = {
        type: "object",
        properties: {
          code: { type: "string", pattern: "^[A-Z]{3}-\\d{2}$" },
          count: { type: "integer", minimum: 10, maximum: 20, multipleOf: 2 },
          ratio: { type: "number", exclusiveMinimum: 0, exclusiveMaximum: 1 },
          words: { type: "array", items: { type: "string", minLength: 2, maxLength: 4 }, minItems: 2, maxItems: 3 },
          day: { type: "string", format: "date" },
          host: { type: "string", format: "ipv4" },
        },
        required: ["code", "count", "ratio", "words", "day", "host"],
        additionalProperties: false,
      };
      const check = addFormats(new Ajv({ strict: false })).compile(schema);
      for (const seed of [1, 2, 3]) {
        const completion = await t.client.chat.completions.create({
          model: MODEL,
          messages,
          max_tokens: 160,
          seed,
          temperature: 1,
          response_format: { type: "json_schema", json_schema: { name: "keywords", schema } },
        });
        const value: unknown = JSON.parse(completion.choices[0]!.message.content!);
        expect(check(value), `${JSON.stringify(value)}: ${JSON.stringify(check.errors)}`).toBe(true);
      }
    });
  });
});
