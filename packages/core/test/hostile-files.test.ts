// The seeded corpus of hostile files: each case is one the fuzz tests (test/fuzz) or an attacker's
// report found to crash, hang, exhaust the heap or throw a bare JS error before the loaders were
// bounded, kept as an ordinary regression test. Each runs through the fuzz targets in a child
// process, so a regression shows up as a failed expectation, not as a dead test runner.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type CaseOutcome, ParserChild } from "@gemma-ts/fuzz";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { configToHf, HostTensor, LOADER_LIMITS, MalformedCheckpointError, PRESETS } from "../src/index.js";
import { loadTrainingState, saveHfCheckpoint, writeGguf, writeSafetensors } from "../src/node.js";
import { encodeRawGguf, rawGgufOf, tellLies, type RawGguf } from "./fuzz/gguf-lies.js";
import { raw } from "./fuzz/json-lies.js";
import { microModel } from "./fuzz/micro-model.js";
import { encodeWithLies, safetensorsParts, type SafetensorsParts } from "./fuzz/safetensors-lies.js";

const root = join(tmpdir(), `gemma-ts-hostile-${process.pid}`);
const folder = join(root, "folder");
const { config, params } = microModel();
const target = (name: string, exportName: string) => new ParserChild({ module: new URL(`./fuzz/targets/${name}.ts`, import.meta.url).href, exportName, timeoutMs: 10_000, maxOldSpaceMb: 256 });
const children = { gguf: target("gguf", "readGgufCase"), safetensors: target("safetensors", "readSafetensorsCase"), hf: target("hf-folder", "loadHfFolderCase") };
let gguf: RawGguf;
let safetensors: SafetensorsParts;

beforeAll(async () => {
  mkdirSync(root, { recursive: true });
  await saveHfCheckpoint(folder, config, params);
  await writeGguf(join(root, "valid.gguf"), config, params, { dtype: "f32" });
  gguf = rawGgufOf(new Uint8Array(readFileSync(join(root, "valid.gguf"))), config, 0);
  await writeSafetensors(join(root, "valid.safetensors"), [["a", HostTensor.float32([2, 3], [1, 2, 3, 4, 5, 6])], ["b", HostTensor.float32([4])]]);
  safetensors = safetensorsParts(new Uint8Array(readFileSync(join(root, "valid.safetensors"))));
});

afterAll(async () => {
  for (const child of Object.values(children)) await child.close();
  rmSync(root, { recursive: true, force: true });
});

/** A typed error with this code and a message matching `message`; anything else fails with what happened. */
function expectTypedError(outcome: CaseOutcome, code: string, message: RegExp): void {
  expect(outcome.kind === "error" ? { name: outcome.name, code: outcome.code } : outcome).toMatchObject({ code });
  if (outcome.kind === "error") {
    expect(["Error", "TypeError", "RangeError"]).not.toContain(outcome.name);
    expect(outcome.message).toMatch(message);
  }
}

/** config.json as released Gemma 2 folders write it (no layer_types), with `edits` applied. */
function configText(edits: Record<string, unknown>): string {
  const json: Record<string, unknown> = { ...configToHf(config), ...edits };
  delete json.layer_types;
  return JSON.stringify(json);
}

describe("hostile config.json", () => {
  it.each([
    ["a layer count of 1e9", 1e9],
    ["a layer count of 2^31 - 1", 2 ** 31 - 1],
  ])("%s is refused before the layers are built, naming field, value and limit", async (_, layers) => {
    for (const mode of ["config", "load"] as const) {
      const outcome = await children.hf.run({ dir: folder, config: configText({ num_hidden_layers: layers }), mode });
      expectTypedError(outcome, "LIMIT_EXCEEDED", new RegExp(`num_hidden_layers is ${layers} in .*config\\.json, above the limit of 1024`));
    }
  });

  it("names the field of every size beyond its limit", async () => {
    const fields: [string, keyof typeof LOADER_LIMITS][] = [["vocab_size", "vocabSize"], ["hidden_size", "hiddenSize"], ["num_attention_heads", "attentionHeads"], ["max_position_embeddings", "maxPositions"], ["bos_token_id", "tokenId"]];
    for (const [field, limit] of fields) {
      const value = LOADER_LIMITS[limit].max + 1;
      const outcome = await children.hf.run({ dir: folder, config: configText({ [field]: value }), mode: "config" });
      expectTypedError(outcome, "LIMIT_EXCEEDED", new RegExp(`${field} is ${value} .*above the limit of ${LOADER_LIMITS[limit].max}`));
    }
  });

  it("an empty, garbage or deeply nested config.json is a typed error", async () => {
    for (const text of ["", "garbage{", `{"rope_parameters": ${"[".repeat(100_000)}${"]".repeat(100_000)}}`, "null"]) {
      const outcome = await children.hf.run({ dir: folder, config: text, mode: "config" });
      expect(outcome.kind === "error" && outcome.code).toMatch(/^(MALFORMED_CHECKPOINT|INVALID_CONFIG)$/);
      if (outcome.kind === "error") expect(outcome.message).not.toMatch(/\n/);
    }
  });
});

describe("hostile GGUF headers", () => {
  it.each([
    ["a block count of 2^31 - 1", 2 ** 31 - 1],
    ["a block count of 1e9", 1e9],
  ])("%s is refused before the layers are built", async (_, blocks) => {
    const bytes = encodeRawGguf(tellLies(gguf, [{ kind: "value", key: "gemma2.block_count", value: { type: "uint32", value: blocks } }]));
    for (const mode of ["config", "float"] as const) {
      expectTypedError(await children.gguf.run({ dir: root, bytes, mode }), "LIMIT_EXCEEDED", new RegExp(`gemma2.block_count is ${blocks} in .*above the limit of 1024`));
    }
  });

  it("metadata arrays nested 100,000 deep are refused at the depth limit, not by the stack", async () => {
    const bytes = encodeRawGguf(tellLies(gguf, [{ kind: "nested", depth: 100_000 }]));
    expectTypedError(await children.gguf.run({ dir: root, bytes, mode: "config" }), "LIMIT_EXCEEDED", /array nesting depth is 9 in .*above the limit of 8/);
  });

  it("an architecture of the wrong type is named, not a serialisation failure", async () => {
    const bytes = encodeRawGguf(tellLies(gguf, [{ kind: "value", key: "general.architecture", value: { type: "uint64", value: 2n ** 40n } }]));
    expectTypedError(await children.gguf.run({ dir: root, bytes, mode: "config" }), "INVALID_CONFIG", /general\.architecture.*1099511627776/);
  });

  it("an embedding claiming 2^31 rows (no token list to contradict it) is refused before it is allocated", async () => {
    const lying: RawGguf = { ...gguf, entries: gguf.entries.filter((e) => e.key !== "tokenizer.ggml.tokens"), tensors: gguf.tensors.map((t) => (t.name === "token_embd.weight" ? { ...t, dims: [t.dims[0]!, 2n ** 31n] } : t)) };
    expectTypedError(await children.gguf.run({ dir: root, bytes: encodeRawGguf(lying), mode: "float" }), "LIMIT_EXCEEDED", /token_embd\.weight rows is 2147483648/);
  });

  it("a tensor whose data would run past the end of the file is refused before anything is read", async () => {
    const bytes = encodeRawGguf(tellLies(gguf, [{ kind: "truncateData", keep: 100 }]));
    expectTypedError(await children.gguf.run({ dir: root, bytes, mode: "config" }), "MALFORMED_CHECKPOINT", /truncated: tensor '.*' needs bytes/);
  });
});

describe("hostile safetensors headers", () => {
  it.each([
    ["a shape nested 100,000 deep", "shape"],
    ["data_offsets nested 100,000 deep", "data_offsets"],
  ] as const)("%s is a typed error naming the tensor", async (_, field) => {
    const bytes = encodeWithLies(safetensors, [{ kind: "field", tensor: "a", field, value: raw(`${"[".repeat(100_000)}${"]".repeat(100_000)}`) }]);
    expectTypedError(await children.safetensors.run({ dir: root, bytes }), "MALFORMED_CHECKPOINT", new RegExp(`tensor 'a': ${field} a nested array`));
  });

  it("a rank beyond the limit is refused", async () => {
    const bytes = encodeWithLies(safetensors, [{ kind: "field", tensor: "a", field: "shape", value: new Array(9).fill(1) }]);
    expectTypedError(await children.safetensors.run({ dir: root, bytes }), "LIMIT_EXCEEDED", /rank of tensor 'a' is 9/);
  });
});

describe("hostile trainer_state.json", () => {
  it("a state of null is a typed error", async () => {
    const dir = join(root, "state");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "trainer_state.json"), "null");
    await expect(loadTrainingState(dir)).rejects.toThrow(MalformedCheckpointError);
  });
});

it("the released Gemma 2 sizes are inside every limit, with room", () => {
  for (const name of ["gemma2-2b", "gemma2-9b", "gemma2-27b"] as const) {
    const c = PRESETS[name];
    expect(c.numHiddenLayers * 10).toBeLessThanOrEqual(LOADER_LIMITS.layers.max);
    expect(c.hiddenSize * 10).toBeLessThanOrEqual(LOADER_LIMITS.hiddenSize.max);
    expect(c.intermediateSize * 5).toBeLessThanOrEqual(LOADER_LIMITS.intermediateSize.max);
    expect(c.numAttentionHeads * 10).toBeLessThanOrEqual(LOADER_LIMITS.attentionHeads.max);
    expect(c.headDim * 10).toBeLessThanOrEqual(LOADER_LIMITS.headDim.max);
    expect(c.vocabSize * 10).toBeLessThanOrEqual(LOADER_LIMITS.vocabSize.max);
    expect(c.maxPositionEmbeddings * 100).toBeLessThanOrEqual(LOADER_LIMITS.maxPositions.max);
    expect(c.vocabSize * c.hiddenSize * 100).toBeLessThanOrEqual(LOADER_LIMITS.tensorElements.max);
  }
});
