// A response_format schema is request input: compileSchema refuses, with an UnsupportedSchemaError
// naming the place and the limit, any schema whose size would otherwise exhaust the stack (deep
// nesting, long $ref chains), the time and heap ($refs fanning out exponentially) or end in a bare
// exception (a malformed percent-escape in a $ref), while schemas at the limits still compile.
// Stop strings past their length limit are refused at the engine's door too.
import { describe, expect, it } from "vitest";
import { compileSchema, InvalidRequestError, UnsupportedSchemaError } from "../src/index.js";
import { checkSchemaDocument, SCHEMA_LIMITS } from "../src/json-schema.js";
import { validateRequest } from "../src/validate-request.js";

/** `depth` schemas, each the `items` of the one above. */
function nestedItems(depth: number): object {
  let schema: object = { type: "string" };
  for (let i = 0; i < depth; i++) schema = { type: "array", items: schema };
  return schema;
}

/** A value nested `depth` arrays deep, built without recursion. */
function nestedArray(depth: number): unknown[] {
  const root: unknown[] = [];
  let inner = root;
  for (let i = 1; i < depth; i++) {
    const next: unknown[] = [];
    inner.push(next);
    inner = next;
  }
  return root;
}

/** $defs d0 .. d(n-1), each referring to the next `fan` times. */
function refs(length: number, fan: number): object {
  const $defs: Record<string, object> = {};
  for (let i = 0; i < length; i++) {
    const next = { $ref: `#/$defs/d${i + 1}` };
    $defs[`d${i}`] = i + 1 === length ? { type: "string" } : fan === 1 ? next : { type: "object", properties: Object.fromEntries(Array.from({ length: fan }, (_, k) => [`p${k}`, next])) };
  }
  return { $ref: "#/$defs/d0", $defs };
}

function refusal(schema: object): UnsupportedSchemaError {
  try {
    compileSchema(schema);
  } catch (error) {
    if (error instanceof UnsupportedSchemaError) return error;
    throw error;
  }
  throw new Error("the schema compiled");
}

describe("schema limits", () => {
  it("the JSON text may nest documentDepth levels, not one more, however deep it goes", () => {
    const limit = SCHEMA_LIMITS.documentDepth;
    // The schema object and its enum list are two of the levels.
    expect(() => checkSchemaDocument({ enum: [nestedArray(limit - 2)] })).not.toThrow();
    expect(refusal({ enum: [nestedArray(limit - 1)] }).message).toContain(`limit of ${limit} levels`);
    for (const depth of [3_000, 100_000]) {
      const error = refusal({ type: "object", properties: { a: { enum: [nestedArray(depth)] } } });
      expect(error.code).toBe("UNSUPPORTED_SCHEMA");
      expect(error.path.startsWith("/properties/a/enum/0/0/0")).toBe(true);
    }
  });

  it("schemas may nest `depth` levels, not one more", () => {
    expect(() => compileSchema(nestedItems(SCHEMA_LIMITS.depth))).not.toThrow();
    expect(refusal(nestedItems(SCHEMA_LIMITS.depth + 1)).message).toContain(`limit of ${SCHEMA_LIMITS.depth} levels`);
  });

  it("a $ref chain counts its depth: 10,000 links are refused, not a stack overflow", () => {
    expect(() => compileSchema(refs(SCHEMA_LIMITS.depth, 1))).not.toThrow();
    const error = refusal(refs(10_000, 1));
    expect(error.message).toContain(`limit of ${SCHEMA_LIMITS.depth} levels`);
  });

  it("$refs that fan out to 4^20 schemas are refused at the node limit", () => {
    expect(refusal(refs(20, 4)).message).toContain(`limit of ${SCHEMA_LIMITS.nodes} subschemas`);
    expect(() => compileSchema(refs(6, 4))).not.toThrow(); // 4^5 objects: within the limit
  });

  it("enum values past the literal limit are refused", () => {
    const values = Array.from({ length: SCHEMA_LIMITS.literals }, (_, i) => i);
    expect(() => compileSchema({ enum: values })).not.toThrow();
    expect(refusal({ anyOf: [{ enum: values }, { const: "x" }] }).message).toContain(`limit of ${SCHEMA_LIMITS.literals} enum`);
  });

  it("a $ref with a malformed percent-escape is an UnsupportedSchemaError, not a URIError", () => {
    const error = refusal({ $ref: "#/$defs/%E0%A4%A", $defs: { a: { type: "string" } } });
    expect(error.path).toBe("/$ref");
    expect(compileSchema({ $ref: "#/$defs/a%20b", $defs: { "a b": { type: "string" } } }).root.kind).toBe("string");
  });

  it("long required lists are checked by set, and a missing name is reported clipped", () => {
    const names = Array.from({ length: 20_000 }, (_, i) => `p${i}`);
    const error = refusal({ type: "object", properties: { a: { type: "string" } }, required: [...names.slice(0, -1), "x".repeat(1000)] });
    expect(error.message).toContain("'p0' is required");
    expect(refusal({ type: "object", properties: {}, required: ["x".repeat(1000)] }).message.length).toBeLessThan(300);
  });
});

describe("stop strings at the engine's door", () => {
  const request = (stop: string[]) => ({ promptIds: [1, 2], maxTokens: 4, stop });

  it("refuses one longer than the limit, naming it", () => {
    expect(() => validateRequest(request(["x".repeat(512)]), 100, 64)).not.toThrow();
    expect(() => validateRequest(request(["\n", "x".repeat(513)]), 100, 64)).toThrow(InvalidRequestError);
    expect(() => validateRequest(request(["\n", "x".repeat(513)]), 100, 64)).toThrow(/'stop\[1\]'.*at most 512/);
  });
});
