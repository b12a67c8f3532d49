// Structured output. The state machine alone: from random valid prefixes, its cheapest completion
// is accepted byte by byte, lowers the cost by one each byte and parses. Then the engine on a
// random-weight model: every output for several schemas and seeds (tight token budgets included)
// parses and validates under Ajv, a real JSON Schema validator.
import { Random } from "@gemma-ts/core";
import { Ajv } from "ajv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compileSchema, Engine, InvalidRequestError, UnsupportedSchemaError, type CompletionRequest } from "../src/index.js";
import { JsonState } from "../src/json-machine.js";
import { collect } from "./support/collect.js";
import { promptIds, smallModel, type SmallModel } from "./support/small-model.js";

const SCHEMAS: Record<string, object> = {
  person: {
    type: "object",
    properties: {
      name: { type: "string" },
      age: { type: "integer" },
      email: { type: "string" },
      tags: { type: "array", items: { type: "string", enum: ["a", "b", "admin"] } },
      active: { type: "boolean" },
    },
    required: ["name", "age", "active"],
    additionalProperties: false,
  },
  order: {
    type: "object",
    properties: {
      order: {
        type: "object",
        properties: {
          id: { type: "integer" },
          items: {
            type: "array",
            items: {
              type: "object",
              properties: { sku: { type: "string" }, qty: { type: "integer" }, price: { type: "number" } },
              required: ["sku", "qty", "price"],
              additionalProperties: false,
            },
          },
        },
        required: ["id", "items"],
        additionalProperties: false,
      },
      note: { anyOf: [{ type: "string" }, { type: "null" }] },
    },
    required: ["order", "note"],
    additionalProperties: false,
  },
  enums: {
    type: "object",
    properties: {
      status: { enum: ["ok", "error", null, 3, 3.5] },
      kind: { const: "x" },
      values: { type: "array", items: { type: "number" } },
      flag: { type: ["boolean", "null"] },
      "clé ✓": { type: "string" },
    },
    required: ["status", "kind", "values", "flag", "clé ✓"],
  },
  points: {
    type: "array",
    items: { $ref: "#/$defs/point" },
    $defs: { point: { type: "object", properties: { x: { type: "number" }, y: { type: "number" } }, required: ["x", "y"], additionalProperties: false } },
  },
  free: { type: "object", additionalProperties: { type: "array", items: { type: ["string", "integer"] } } },
};

describe("JSON state machine", () => {
  it("completes any valid prefix with its cheapest completion, one cost unit per byte", () => {
    const fatal = new TextDecoder("utf-8", { fatal: true });
    for (const schema of [undefined, ...Object.values(SCHEMAS)]) {
      const compiled = compileSchema(schema);
      for (let seed = 0; seed < 150; seed++) {
        const random = new Random(seed);
        let state = JsonState.initial(compiled);
        const bytes: number[] = [];
        const steps = Math.floor(random.uniform() * 80);
        for (let k = 0; k < steps && !state.done; k++) {
          const options = Array.from({ length: 256 }, (_, b) => b).filter((b) => state.step(b) !== null);
          if (options.length === 0) break;
          const byte = options[Math.floor(random.uniform() * options.length)]!;
          bytes.push(byte);
          state = state.step(byte)!;
        }
        const closing = state.closing();
        expect(closing.length).toBe(state.cost);
        let cost = state.cost;
        for (const byte of closing) {
          state = state.step(byte)!;
          expect(state?.cost).toBe(--cost);
        }
        expect(state.canEnd).toBe(true);
        const value: unknown = JSON.parse(fatal.decode(Uint8Array.from([...bytes, ...closing])));
        if (schema) expect(ajv.validate(schema, value), ajv.errorsText()).toBe(true);
      }
    }
  });

  it("rejects keywords it cannot enforce, naming where", () => {
    expect(() => compileSchema({ type: "string", pattern: "(a)\\1" })).toThrow(/backreference/);
    expect(() => compileSchema({ type: "object", properties: { a: { type: "array", uniqueItems: true } } })).toThrow(/\/properties\/a.*uniqueItems/);
    expect(() => compileSchema({ anyOf: [{ type: "object" }, { type: "object", properties: {} }] })).toThrow(/same character/);
    expect(() => compileSchema({ $ref: "#/$defs/a", $defs: { a: { type: "array", items: { $ref: "#/$defs/a" } } } })).toThrow(/recursive/);
    expect(() => compileSchema({ type: "object", properties: {}, required: ["x"] })).toThrow(/'x' is required/);
  });
});

const ajv = new Ajv({ strict: false });
let small: SmallModel;
let engine: Engine;

beforeAll(async () => {
  small = await smallModel();
  engine = new Engine({ model: small.model, tokenizer: small.tokenizer, maxBatchSize: 8, contextLength: 256 });
});

afterAll(async () => {
  await engine.close();
});

describe("constrained decoding", () => {
  it("always produces JSON that parses and validates, for several schemas, seeds and budgets", async () => {
    const prompt = promptIds(small.tokenizer, "Reply in JSON:");
    const fatal = new TextDecoder("utf-8", { fatal: true });
    const jobs: { schema: object | undefined; request: CompletionRequest }[] = [];
    const minimum = (schema: object | undefined) => {
      try {
        engine.complete({ promptIds: prompt, maxTokens: 1, responseFormat: schema ? { type: "json_schema", schema } : { type: "json_object" } });
      } catch (error) {
        return Number(/\((\d+) tokens\)/.exec(String(error))![1]);
      }
      return 1;
    };
    for (const schema of [...Object.values(SCHEMAS), undefined]) {
      const responseFormat = schema ? ({ type: "json_schema", schema } as const) : ({ type: "json_object" } as const);
      for (const seed of [1, 2, 3]) jobs.push({ schema, request: { promptIds: prompt, maxTokens: 100, sampling: { temperature: 1, seed }, responseFormat } });
      jobs.push({ schema, request: { promptIds: prompt, maxTokens: 90, sampling: { temperature: 0 }, responseFormat } });
      // A budget barely above the shortest valid JSON: the closing strategy must kick in at once.
      jobs.push({ schema, request: { promptIds: prompt, maxTokens: minimum(schema) + 2, sampling: { temperature: 1.5, seed: 9 }, responseFormat } });
    }
    const results = await Promise.all(jobs.map((job) => collect(engine.complete(job.request))));
    results.forEach((result, i) => {
      const { schema, request } = jobs[i]!;
      const bytes = result.ids.flatMap((id) => [...engine.vocabulary.bytes(id)]);
      expect(fatal.decode(Uint8Array.from(bytes))).toBe(result.text);
      const value: unknown = JSON.parse(result.text);
      if (schema) expect(ajv.validate(schema, value), `${result.text}: ${ajv.errorsText()}`).toBe(true);
      else expect(typeof value === "object" && value !== null && !Array.isArray(value)).toBe(true);
      expect(result.finishReason).toBe("stop");
      expect(result.usage.completionTokens).toBeLessThanOrEqual(request.maxTokens);
    });
  });

  it("rejects an unsupported schema and a budget too small for any valid JSON", () => {
    const prompt = promptIds(small.tokenizer, "JSON:");
    expect(() => engine.complete({ promptIds: prompt, maxTokens: 50, responseFormat: { type: "json_schema", schema: { type: "string", format: "uri" } } })).toThrow(UnsupportedSchemaError);
    expect(() => engine.complete({ promptIds: prompt, maxTokens: 10, responseFormat: { type: "json_schema", schema: SCHEMAS.person! } })).toThrow(InvalidRequestError);
  });
});
