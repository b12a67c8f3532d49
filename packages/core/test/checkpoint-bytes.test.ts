// checkpointFromBytes, the browser's loader: the same params as loadHfCheckpoint from the same
// files (float32, bfloat16, sharded), and loadHfCheckpoint's typed errors on bad bytes.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { checkpointFromBytes, ConfigMismatchError, initParams, MalformedCheckpointError, presetConfig } from "../src/index.js";
import { loadHfCheckpoint, saveHfCheckpoint } from "../src/node.js";

const root = mkdtempSync(join(tmpdir(), "gemma-ts-bytes-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const config = presetConfig("gemma2-tiny");
const params = initParams(config, 4);

function folderBytes(dir: string) {
  const files = readdirSync(dir)
    .filter((name) => name.endsWith(".safetensors"))
    .map((name) => ({ name, bytes: new Uint8Array(readFileSync(join(dir, name))) }));
  return { config: JSON.parse(readFileSync(join(dir, "config.json"), "utf8")), files };
}

describe("checkpointFromBytes", () => {
  for (const [label, options] of [
    ["float32", {}],
    ["bfloat16", { dtype: "bfloat16" as const }],
    ["sharded", { maxShardBytes: 64 * 1024 }],
  ] as const) {
    it(`reads what loadHfCheckpoint reads (${label})`, async () => {
      const dir = join(root, label);
      await saveHfCheckpoint(dir, config, params, options);
      const { config: json, files } = folderBytes(dir);
      const fromBytes = checkpointFromBytes(json, files);
      const fromFolder = await loadHfCheckpoint(dir);
      expect(fromBytes.config).toEqual(fromFolder.config);
      expect([...fromBytes.params.keys()]).toEqual([...fromFolder.params.keys()]);
      for (const [name, tensor] of fromFolder.params) expect(fromBytes.params.get(name)!.data, name).toEqual(tensor.data);
    });
  }

  it("refuses truncated files, missing tensors and unknown ones, naming them", async () => {
    const dir = join(root, "bad");
    await saveHfCheckpoint(dir, config, params);
    const { config: json, files } = folderBytes(dir);
    const [file] = files as [{ name: string; bytes: Uint8Array }];
    expect(() => checkpointFromBytes(json, [{ name: file.name, bytes: file.bytes.subarray(0, file.bytes.length - 10) }])).toThrow(MalformedCheckpointError);
    expect(() => checkpointFromBytes(json, [{ name: file.name, bytes: file.bytes.subarray(0, 5) }])).toThrow(/too short/);
    const { layer_types: _, ...untyped } = json;
    expect(() => checkpointFromBytes({ ...untyped, num_hidden_layers: 5 }, files)).toThrow(/model.layers.4.* missing from the checkpoint/);
    expect(() => checkpointFromBytes({ ...json, intermediate_size: 64 }, files)).toThrow(ConfigMismatchError);
    expect(() => checkpointFromBytes({ ...untyped, num_hidden_layers: 3 }, files)).toThrow(/is not a parameter of this config/);
  });
});
