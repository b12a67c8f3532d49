// Structured outputs at OpenAI's coverage, keyword by keyword: numeric bounds, multipleOf,
// minItems/maxItems, minLength/maxLength, pattern and the formats. For each, the state machine's
// cheapest completions from random prefixes validate, and the engine on a random-weight model
// produces valid output over several seeds (Ajv with ajv-formats' full checks) while the same
// requests without the keyword break it: a keyword silently ignored fails the test.
import { Random } from "@gemma-ts/core";
import { Ajv } from "ajv";
import addFormatsPlugin from "ajv-formats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compileSchema, Engine, UnsupportedSchemaError } from "../src/index.js";
import { JsonState } from "../src/json-machine.js";
import { collect } from "./support/collect.js";
import { promptIds, smallModel, type SmallModel } from "./support/small-model.js";

const addFormats = addFormatsPlugin as unknown as (ajv: Ajv) => Ajv;
const ajv = addFormats(new Ajv({ strict: false }));

/** Ajv (draft 7) on `schema`; a $schema naming another draft is dropped, the keywords used read the same. */
function validate(schema: object, value: unknown): boolean {
  const { $schema: _draft, ...rest } = schema as Record<string, unknown>;
  return ajv.validate(rest, value);
}

interface Case {
  /** The keyword's schema; `loose` is the same without the keyword; `check` what Ajv validates with (if not `schema`). */
  schema: object;
  loose: object;
  check?: object;
  /** Token budget of the loose requests (a random model writes long strings). */
  looseTokens?: number;
}

const string = (extra: object): Case => ({ schema: { type: "string", ...extra }, loose: { type: "string" } });
const CASES: Record<string, Case> = {
  minimum: { schema: { type: "integer", minimum: 1000 }, loose: { type: "integer" } },
  maximum: { schema: { type: "number", maximum: -5.5 }, loose: { type: "number" } },
  "exclusive bounds": { schema: { type: "number", exclusiveMinimum: 0, exclusiveMaximum: 1 }, loose: { type: "number" } },
  "draft 4 exclusiveMaximum": { schema: { type: "integer", maximum: 3, exclusiveMaximum: true }, loose: { type: "integer" }, check: { type: "integer", exclusiveMaximum: 3 } },
  "zod int range": { schema: { type: "integer", minimum: 0, maximum: 120 }, loose: { type: "integer" } },
  multipleOf: { schema: { type: "integer", multipleOf: 7 }, loose: { type: "integer" } },
  minItems: { schema: { type: "array", items: { type: "integer" }, minItems: 3 }, loose: { type: "array", items: { type: "integer" } } },
  maxItems: { schema: { type: "array", items: { type: "boolean" }, maxItems: 1 }, loose: { type: "array", items: { type: "boolean" } } },
  minLength: { schema: { type: "string", minLength: 12 }, loose: { type: "string" }, looseTokens: 4 },
  maxLength: string({ maxLength: 2 }),
  pattern: string({ pattern: "^[A-Z]{2}-\\d{3}$" }),
  "unanchored pattern": string({ pattern: "ab+c" }),
  "pattern with length": string({ pattern: "^[a-f]+$", minLength: 4, maxLength: 6 }),
  "zod email": string({ format: "email", pattern: "^(?!\\.)(?!.*\\.\\.)([A-Za-z0-9_'+\\-\\.]*)[A-Za-z0-9_+-]@([A-Za-z0-9][A-Za-z0-9\\-]*\\.)+[A-Za-z]{2,}$" }),
  ...Object.fromEntries(["date", "time", "date-time", "duration", "uuid", "email", "ipv4", "ipv6", "hostname"].map((format) => [`format ${format}`, string({ format })])),
};

describe("keyword compilation", () => {
  it("completes random prefixes of every keyword's values into valid JSON, one cost unit per byte", () => {
    const fatal = new TextDecoder("utf-8", { fatal: true });
    for (const [name, { schema, check = schema }] of Object.entries(CASES)) {
      const compiled = compileSchema(schema);
      for (let seed = 0; seed < 40; seed++) {
        const random = new Random(seed);
        let state = JsonState.initial(compiled);
        const bytes: number[] = [];
        const steps = Math.floor(random.uniform() * 40);
        for (let k = 0; k < steps && !state.done; k++) {
          const options = Array.from({ length: 256 }, (_, b) => b).filter((b) => state.step(b) !== null);
          if (options.length === 0) break;
          const byte = options[Math.floor(random.uniform() * options.length)]!;
          bytes.push(byte);
          state = state.step(byte)!;
        }
        const closing = state.closing();
        expect(closing.length, name).toBe(state.cost);
        for (const byte of closing) state = state.step(byte)!;
        expect(state.canEnd, name).toBe(true);
        const text = fatal.decode(Uint8Array.from([...bytes, ...closing]));
        expect(validate(check, JSON.parse(text)), `${name}: ${text}: ${ajv.errorsText()}`).toBe(true);
      }
    }
  });

  it("accepts zod 4's and the draft 4 forms and refuses what it cannot enforce, naming the construct", () => {
    expect(() => compileSchema({ $schema: "https://json-schema.org/draft/2020-12/schema", type: "integer", minimum: -9007199254740991, maximum: 9007199254740991 })).not.toThrow();
    const refused: [object, RegExp][] = [
      [{ type: "string", pattern: "(a)\\1" }, /backreference/],
      [{ type: "string", pattern: "a(?=b)" }, /lookahead/],
      [{ type: "string", pattern: "(?<=a)b" }, /lookbehind/],
      [{ type: "string", pattern: "\\bword" }, /word boundary/],
      [{ type: "string", pattern: "\\p{L}+" }, /Unicode property/],
      [{ type: "string", pattern: "a|^b" }, /anchor/],
      [{ type: "string", format: "uri" }, /format "uri" is not supported/],
      [{ type: "number", multipleOf: 0.5 }, /multipleOf/],
      [{ type: "integer", minimum: 5, maximum: 4 }, /bounds/],
      [{ type: "array", minItems: 3, maxItems: 2 }, /maxItems/],
      [{ type: "string", minLength: 5, maxLength: 4 }, /no string satisfies/],
      [{ type: "string", format: "time", pattern: "^\\d\\d:\\d\\d$" }, /no string satisfies/],
      [{ type: "object", minProperties: 1 }, /'minProperties' is not supported/],
    ];
    for (const [schema, message] of refused) expect(() => compileSchema(schema), JSON.stringify(schema)).toThrow(message);
    expect(() => compileSchema({ type: "string", pattern: "(" })).toThrow(UnsupportedSchemaError);
  });

  it("keeps only the enum values that meet the other keywords", () => {
    const text = new TextDecoder().decode(compileSchema({ enum: [1, 50, 200], minimum: 10, maximum: 100 }).root.shortest);
    expect(text).toBe("50");
  });
});

let small: SmallModel;
let engine: Engine;

beforeAll(async () => {
  small = await smallModel();
  engine = new Engine({ model: small.model, tokenizer: small.tokenizer, maxBatchSize: 8, contextLength: 256 });
});

afterAll(async () => {
  await engine.close();
});

describe("constrained decoding per keyword", () => {
  const seeds = [1, 2, 3, 4];

  async function outputs(schema: object, maxTokens = 60): Promise<unknown[]> {
    const prompt = promptIds(small.tokenizer, "Reply in JSON:");
    const results = await Promise.all(
      seeds.map((seed) => collect(engine.complete({ promptIds: prompt, maxTokens, sampling: { temperature: 1, seed }, responseFormat: { type: "json_schema", schema } }))),
    );
    return results.map((result) => JSON.parse(result.text) as unknown);
  }

  for (const [name, { schema, loose, check = schema, looseTokens }] of Object.entries(CASES)) {
    it(`${name}: every output validates; without the keyword some do not`, async () => {
      for (const value of await outputs(schema)) expect(validate(check, value), `${JSON.stringify(value)}: ${ajv.errorsText()}`).toBe(true);
      const unconstrained = await outputs(loose, looseTokens);
      expect(
        unconstrained.some((value) => !validate(check, value)),
        `the loose outputs ${JSON.stringify(unconstrained)} all satisfy the keyword: this case cannot fail`,
      ).toBe(true);
    });
  }

  it("a zod-style object with every keyword together validates over seeds, tight budgets included", async () => {
    const schema = {
      $schema: "https://json-schema.org/draft/2020-12/schema",
      type: "object",
      properties: {
        name: { type: "string", minLength: 1, maxLength: 12 },
        age: { type: "integer", minimum: 0, maximum: 120 },
        email: CASES["zod email"]!.schema,
        role: { type: "string", enum: ["admin", "user"] },
        tags: { type: "array", items: { type: "string", maxLength: 5 }, minItems: 1, maxItems: 3 },
        id: { type: "string", format: "uuid" },
      },
      required: ["name", "age", "email", "role", "tags", "id"],
      additionalProperties: false,
    };
    for (const value of await outputs(schema, 200)) expect(validate(schema, value), `${JSON.stringify(value)}: ${ajv.errorsText()}`).toBe(true);
    const shortest = compileSchema(schema).root.shortest.length;
    for (const value of await outputs(schema, shortest + 3)) expect(validate(schema, value), `${JSON.stringify(value)}: ${ajv.errorsText()}`).toBe(true);
  });
});
