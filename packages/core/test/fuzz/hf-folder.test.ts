// Hugging Face folders under hostile input: config.json with absurd sizes, wrong kinds, deep
// nesting, missing fields, garbage, truncation and byte flips; and, for a sharded folder,
// model.safetensors.index.json with lying, escaping or nested weight maps. Each folder is loaded
// whole, quantized while read, or only its config read, in a child process: it must end in a
// checkpoint or a typed error, within the time and memory bounds.
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { applyByteMutation, byteMutations, deeplyNestedJson, fuzzParser, ParserChild } from "@gemma-ts/fuzz";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { configToHf } from "../../src/index.js";
import { INDEX_FILE, saveHfCheckpoint } from "../../src/node.js";
import { RUNS, TIMEOUT_MS } from "./budget.js";
import { describeFindings } from "./findings.js";
import { hostileJson, jsonText, nestedDepths, raw, type Json } from "./json-lies.js";
import { microModel } from "./micro-model.js";

const root = join(tmpdir(), `gemma-ts-fuzz-hf-${process.pid}`);
const single = join(root, "single");
const sharded = join(root, "sharded");
const child = new ParserChild({ module: new URL("./targets/hf-folder.ts", import.meta.url).href, exportName: "loadHfFolderCase" });
const modes = fc.constantFrom("load" as const, "quantized" as const, "config" as const);
const { config, params } = microModel();
const validConfig = configToHf(config) as Record<string, Json>;
const validConfigText = JSON.stringify(validConfig, null, 2);
let validIndex: { metadata: Json; weight_map: Record<string, Json> };

beforeAll(async () => {
  mkdirSync(root, { recursive: true });
  await saveHfCheckpoint(single, config, params);
  await saveHfCheckpoint(sharded, config, params, { maxShardBytes: 16_000 });
  validIndex = JSON.parse(readFileSync(join(sharded, INDEX_FILE), "utf8"));
});

afterAll(async () => {
  await child.close();
  rmSync(root, { recursive: true, force: true });
});

/** config.json texts: a few fields lied about or dropped, or the whole text broken. */
const configText: fc.Arbitrary<string | Uint8Array> = fc.oneof(
  fc
    .tuple(
      // Released Gemma 2 configs leave layer_types out, so the layer count alone decides the layers.
      fc.boolean(),
      fc.array(fc.tuple(fc.constantFrom(...Object.keys(validConfig), "rope_parameters", "unknown_field"), fc.option(hostileJson, { nil: undefined })), { minLength: 1, maxLength: 3 }),
    )
    .map(([withLayerTypes, lies]) => {
      const edited: Record<string, Json> = { ...validConfig };
      if (!withLayerTypes) delete edited.layer_types;
      for (const [field, value] of lies) {
        if (value === undefined) delete edited[field];
        else edited[field] = value;
      }
      return jsonText(edited);
    }),
  fc.constantFrom("", " ", "null", "[]", "1", '"config"', "{}", "{", "\ufeff{}", jsonText(raw("1e999"))),
  nestedDepths.chain((depth) => fc.constantFrom(deeplyNestedJson(depth), jsonText({ ...validConfig, rope_parameters: raw(deeplyNestedJson(depth, "a")) }))),
  fc.nat({ max: validConfigText.length }).map((at) => validConfigText.slice(0, at)),
  byteMutations(new TextEncoder().encode(validConfigText)).map((mutation) => applyByteMutation(new TextEncoder().encode(validConfigText), mutation)),
  fc.string({ unit: "binary", maxLength: 64 }),
);

describe("Hugging Face folder fuzzing", () => {
  it("a hostile config.json ends in a checkpoint or a typed error", async () => {
    const arbitrary = fc.record({ dir: fc.constant(single), config: configText, mode: modes });
    const report = await fuzzParser({ parser: "hf folder (config.json)", child, arbitrary, runs: RUNS, seed: 3 });
    expect(describeFindings(report)).toEqual([]);
  }, TIMEOUT_MS);

  it("a hostile shard index ends in a checkpoint or a typed error", async () => {
    const shardNames = [...new Set(Object.values(validIndex.weight_map))] as string[];
    const tensorNames = Object.keys(validIndex.weight_map);
    const shardLie = fc.oneof(
      fc.constantFrom(...shardNames),
      fc.constantFrom("../single/model.safetensors", "/etc/passwd", "..", ".", "", "config.json", INDEX_FILE, "missing.safetensors", "model-00001-of-00099.safetensors", "a\\b"),
      hostileJson,
    );
    const index = fc.oneof(
      fc.array(fc.tuple(fc.constantFrom(...tensorNames, "lm_head.weight", "model.layers.99.mlp.up_proj.weight"), fc.option(shardLie, { nil: undefined })), { minLength: 1, maxLength: 3 }).map((lies) => {
        const weightMap: Record<string, Json> = { ...validIndex.weight_map };
        for (const [tensor, shard] of lies) {
          if (shard === undefined) delete weightMap[tensor];
          else weightMap[tensor] = shard;
        }
        return jsonText({ ...validIndex, weight_map: weightMap });
      }),
      hostileJson.map((value) => jsonText({ ...validIndex, weight_map: value })),
      hostileJson.map((value) => jsonText({ ...validIndex, metadata: value })),
      hostileJson.map((value) => jsonText(value)),
    );
    const arbitrary = fc.record({ dir: fc.constant(sharded), config: fc.constant(validConfigText), index, mode: fc.constantFrom("load" as const, "quantized" as const) });
    const report = await fuzzParser({ parser: "hf folder (shard index)", child, arbitrary, runs: RUNS, seed: 4 });
    expect(describeFindings(report)).toEqual([]);
  }, TIMEOUT_MS);
});
