// Request bodies for /v1/chat/completions and /v1/completions as an attacker would write them:
// valid bodies (small budgets, every optional field in play) changed at one to three places (a
// field set to the wrong type, a huge or tiny number, a long string, a value nested thousands
// deep, null, an unknown field, a field removed), sometimes as text (prototype keys, duplicate
// keys, lone surrogates, byte flips, truncation), sent with the right or a wrong Content-Type.
// Bodies are bytes, built as text, because a deep value cannot be built or cloned recursively.
import { applyByteMutation, byteMutations, deeplyNestedJson } from "@gemma-ts/fuzz";
import fc from "fast-check";

export type Endpoint = "/v1/chat/completions" | "/v1/completions";

export interface BodyCase {
  endpoint: Endpoint;
  contentType: string;
  body: Uint8Array;
  /** What was done to the valid body, for reading a finding. */
  changes: string[];
}

/** A placeholder string that serialization replaces with JSON text nested this deep. */
const DEEP = "\u0001deep:";

const text = fc.oneof(fc.constantFrom("Hi", "The", "Once upon a time", "", " ", "\u{1F600}", "<start_of_turn>user", "<eos>"), fc.string({ maxLength: 40 }));
const message = fc.record({ role: fc.constantFrom("system", "developer", "user", "assistant"), content: fc.oneof(text, fc.array(fc.record({ type: fc.constant("text"), text }), { minLength: 1, maxLength: 3 })) });
const smallSchema = fc.constantFrom(
  { type: "object", properties: { name: { type: "string" }, age: { type: "integer" } }, required: ["name"] },
  { type: "array", items: { enum: ["a", "b", null] } },
  { anyOf: [{ type: "string" }, { type: "null" }] },
  {},
);
const responseFormat = fc.oneof(
  fc.constant({ type: "text" }),
  fc.constant({ type: "json_object" }),
  smallSchema.map((schema) => ({ type: "json_schema", json_schema: { name: "out", schema, strict: true } })),
);

/** The fields both endpoints share, each present or not, all valid. */
const common = fc.record(
  {
    max_tokens: fc.integer({ min: 1, max: 6 }),
    temperature: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 2, noNaN: true })),
    top_p: fc.double({ min: 0, max: 1, noNaN: true }),
    top_k: fc.integer({ min: 0, max: 50 }),
    min_p: fc.double({ min: 0, max: 1, noNaN: true }),
    n: fc.integer({ min: 1, max: 3 }),
    stop: fc.oneof(fc.constant("\n"), fc.array(fc.string({ minLength: 1, maxLength: 4 }), { maxLength: 4 })),
    seed: fc.integer(),
    frequency_penalty: fc.double({ min: -2, max: 2, noNaN: true }),
    presence_penalty: fc.double({ min: -2, max: 2, noNaN: true }),
    repetition_penalty: fc.double({ min: 0.5, max: 2, noNaN: true }),
    stream: fc.boolean(),
    stream_options: fc.record({ include_usage: fc.boolean() }),
    response_format: responseFormat,
    user: fc.string({ maxLength: 8 }),
  },
  { requiredKeys: [] },
);

const chatBody = fc
  .tuple(common, fc.array(message, { minLength: 1, maxLength: 4 }), fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }))
  .map(([fields, messages, topLogprobs]) => ({
    model: "tiny",
    ...fields,
    messages: [...messages.slice(0, -1), { role: "user", content: "Hi" }],
    ...(topLogprobs === undefined ? {} : { logprobs: true, top_logprobs: topLogprobs }),
  }));
const completionBody = fc
  .tuple(common, text, fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }))
  .map(([fields, prompt, logprobs]) => ({ model: "tiny", ...fields, prompt, ...(logprobs === undefined ? {} : { logprobs }) }));

/** Values no valid body holds there: wrong types, extremes, long or deep ones. */
const hostileValue = fc.oneof(
  fc.constantFrom(null, true, false, 0, -0, 1, -1, 0.5, 1e308, -1e308, 2 ** 53, 2 ** 53 + 2, -(2 ** 63), 1e-320, "", "0", "NaN", "1e999", [], {}, [null], { "": "" }),
  fc.constantFrom("tiny", "../tiny", "/etc/passwd", "tiny\u0000", "%2e%2e", "a".repeat(300)),
  fc.string({ maxLength: 20 }),
  fc.jsonValue({ maxDepth: 3 }),
  fc.integer({ min: 1_000, max: 400_000 }).map((length) => "x ".repeat(length / 2)),
  fc.integer({ min: 2, max: 100_000 }).map((depth) => `${DEEP}${depth}`),
  fc.array(message, { minLength: 50, maxLength: 400 }),
  fc.constantFrom(...Array.from({ length: 4 }, (_, k) => ({ type: "json_schema", json_schema: { name: "deep", schema: { type: "array", items: `${DEEP}${[300, 3_000, 30_000, 100_000][k]}` } } }))),
);

/** Where a change lands: the fields of either body, and some inside them. */
const FIELDS = [
  "model",
  "messages",
  "prompt",
  "max_tokens",
  "max_completion_tokens",
  "temperature",
  "top_p",
  "top_k",
  "min_p",
  "n",
  "stop",
  "seed",
  "frequency_penalty",
  "presence_penalty",
  "repetition_penalty",
  "stream",
  "stream_options",
  "response_format",
  "logprobs",
  "top_logprobs",
  "logit_bias",
  "tools",
  "echo",
  "best_of",
  "suffix",
  "user",
  "messages.0",
  "messages.0.role",
  "messages.0.content",
  "messages.0.content.0.text",
  "response_format.type",
  "response_format.json_schema",
  "response_format.json_schema.name",
  "response_format.json_schema.schema",
  "stream_options.include_usage",
  "unknown_field",
];

type Change = { kind: "set"; path: string; value: unknown } | { kind: "delete"; path: string };
const change: fc.Arbitrary<Change> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant("set" as const), path: fc.constantFrom(...FIELDS), value: hostileValue }), weight: 4 },
  { arbitrary: fc.record({ kind: fc.constant("delete" as const), path: fc.constantFrom(...FIELDS) }), weight: 1 },
);

function apply(body: Record<string, unknown>, edit: Change): void {
  const keys = edit.path.split(".");
  let target: unknown = body;
  for (const key of keys.slice(0, -1)) {
    if (typeof target !== "object" || target === null) return;
    target = (target as Record<string, unknown>)[key];
  }
  if (typeof target !== "object" || target === null) return;
  const last = keys.at(-1)!;
  if (edit.kind === "delete") delete (target as Record<string, unknown>)[last];
  else (target as Record<string, unknown>)[last] = edit.value;
}

/** JSON text with every DEEP placeholder replaced by nested arrays or objects. */
function serialize(body: unknown): string {
  return JSON.stringify(body).replace(/"\\u0001deep:(\d+)"/g, (_, depth: string) => deeplyNestedJson(Number(depth), Number(depth) % 2 === 0 ? undefined : "a"));
}

/** Edits of the JSON text itself. */
const textEdit = fc.oneof(
  fc.constant((json: string) => json.replace("{", '{"__proto__":{"polluted":1},')),
  fc.constant((json: string) => json.replace("{", '{"constructor":{"prototype":{"polluted":1}},')),
  fc.constant((json: string) => json.replace("{", '{"model":1,')),
  fc.constant((json: string) => json.replace('"Hi"', '"\\ud800 lone"')),
  fc.constant((json: string) => json.replace('"Hi"', '"\\u0000"')),
  fc.constant((json: string) => `${json}${json}`),
  fc.constant((json: string) => ` \n\t${json}`),
);

const contentType = fc.oneof(
  { arbitrary: fc.constant("application/json"), weight: 12 },
  { arbitrary: fc.constantFrom("application/json; charset=utf-8", "Application/JSON", "application/json; charset=utf-16", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/octet-stream", ""), weight: 2 },
);

export const bodyCase: fc.Arbitrary<BodyCase> = fc
  .tuple(fc.oneof(chatBody, completionBody), fc.array(change, { minLength: 0, maxLength: 3 }), fc.option(textEdit, { nil: undefined, freq: 6 }), contentType)
  .chain(([generated, edits, edit, type]) => {
    const body: Record<string, unknown> = structuredClone(generated);
    const endpoint: Endpoint = "messages" in body ? "/v1/chat/completions" : "/v1/completions";
    for (const one of edits) apply(body, one);
    const json = edit ? edit(serialize(body)) : serialize(body);
    const changes = [...edits.map((one) => (one.kind === "delete" ? `delete ${one.path}` : `set ${one.path}`)), ...(edit ? [`text: ${edit.toString()}`] : [])];
    const bytes = new TextEncoder().encode(json);
    const whole: BodyCase = { endpoint, contentType: type, changes, body: bytes };
    // One case in eight is mutated as bytes too: truncated, flipped, overwritten, spliced.
    const mutated = byteMutations(bytes).map((mutation) => ({ ...whole, body: applyByteMutation(bytes, mutation), changes: [...changes, `bytes: ${JSON.stringify(mutation)}`] }));
    return fc.oneof({ arbitrary: fc.constant(whole), weight: 7 }, { arbitrary: mutated, weight: 1 });
  });
