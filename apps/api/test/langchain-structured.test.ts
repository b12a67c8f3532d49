// LangChain JS unchanged against the server: ChatOpenAI pointed at it, withStructuredOutput(zod
// schema, { method: "jsonSchema" }) so the schema travels as response_format json_schema, and
// LangChain parses the answer with the zod schema. Ajv with ajv-formats checks it again. On random
// weights and on the briefly trained model (support/trained-model.ts), which prefers JSON of its own.
import { ChatOpenAI } from "@langchain/openai";
import { Ajv } from "ajv";
import addFormatsPlugin from "ajv-formats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { MODEL, startTestServer, WEIGHTS, type TestServer } from "./support/test-server.js";

const addFormats = addFormatsPlugin as unknown as (ajv: Ajv) => Ajv;

const Citizen = z.object({
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

  describe("LangChain JS withStructuredOutput", () => {
    it("returns an object that zod and Ajv accept, at several seeds", async () => {
      const { $schema: _draft, ...schema } = z.toJSONSchema(Citizen) as Record<string, unknown>;
      const validate = addFormats(new Ajv({ strict: false })).compile(schema);
      for (const seed of [1, 2, 3]) {
        const llm = new ChatOpenAI({ model: MODEL, apiKey: "unused", configuration: { baseURL: `${t.url}/v1` }, maxTokens: 200, temperature: 1, maxRetries: 0, modelKwargs: { seed } });
        const citizen = await llm.withStructuredOutput(Citizen, { method: "jsonSchema", name: "citizen" }).invoke("Describe a citizen.");
        expect(Citizen.safeParse(citizen).success).toBe(true);
        expect(validate(citizen), JSON.stringify(validate.errors)).toBe(true);
      }
    });
  });
});
