// The Vercel AI SDK unchanged against the server: generateObject through @ai-sdk/openai-compatible
// with structured outputs on, so the zod schema travels as response_format json_schema (as zod 4
// emits it: $schema, integer bounds, the e-mail pattern with its lookaheads, enums, nested objects
// and arrays with item counts). The SDK parses and validates the answer with zod itself; Ajv
// with ajv-formats checks it again against the JSON schema the server was sent. On random weights
// and on the briefly trained model (support/trained-model.ts), which prefers JSON of its own.
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { generateObject, jsonSchema } from "ai";
import { Ajv } from "ajv";
import addFormatsPlugin from "ajv-formats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { MODEL, startTestServer, WEIGHTS, type TestServer } from "./support/test-server.js";

const addFormats = addFormatsPlugin as unknown as (ajv: Ajv) => Ajv;

export const Citizen = z.object({
  name: z.string().min(1).max(20),
  age: z.number().int().min(0).max(120),
  email: z.email(),
  role: z.enum(["admin", "user", "guest"]),
  address: z.object({ city: z.string().max(15), zip: z.string().regex(/^\d{5}$/) }),
  scores: z.array(z.number().int().min(1).max(5)).min(1).max(3),
});

describe.each(WEIGHTS)("on %s weights", (weights) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ weights });
  });
  afterAll(() => t.stop());

  describe("Vercel AI SDK generateObject", () => {
    it("returns an object that zod and Ajv accept, at several seeds", async () => {
      const provider = createOpenAICompatible({ name: "gemma-ts", baseURL: `${t.url}/v1`, apiKey: "unused", supportsStructuredOutputs: true });
      const validate = addFormats(new Ajv({ strict: false })).compile(stripDraft(z.toJSONSchema(Citizen)));
      for (const seed of [1, 2, 3]) {
        const { object, finishReason } = await generateObject({
          model: provider(MODEL),
          schema: Citizen,
          prompt: "Describe a citizen.",
          maxOutputTokens: 200,
          temperature: 1,
          seed,
          maxRetries: 0,
        });
        expect(finishReason).toBe("stop");
        expect(Citizen.safeParse(object).success).toBe(true);
        expect(validate(object), JSON.stringify(validate.errors)).toBe(true);
      }
    });

    it("surfaces a schema the server cannot enforce as the server's 400", async () => {
      const provider = createOpenAICompatible({ name: "gemma-ts", baseURL: `${t.url}/v1`, apiKey: "unused", supportsStructuredOutputs: true });
      const unsupported = jsonSchema<{ link: string }>({ type: "object", properties: { link: { type: "string", format: "uri" } }, required: ["link"], additionalProperties: false });
      await expect(generateObject({ model: provider(MODEL), schema: unsupported, prompt: "A link.", maxOutputTokens: 50, maxRetries: 0 })).rejects.toThrow(/format "uri" is not supported/);
    });
  });
});

/** Ajv's default draft (7) reads zod's 2020-12 output the same for these keywords. */
function stripDraft(schema: object): object {
  const { $schema: _draft, ...rest } = schema as Record<string, unknown>;
  return rest;
}
