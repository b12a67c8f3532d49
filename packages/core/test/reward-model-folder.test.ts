// A reward model travels as transformers' Gemma2ForSequenceClassification folder: the backbone,
// `score.weight` [1, hidden] and a one-label config. It loads back with its head; a causal LM's
// folder loads with none; a head of the wrong shape is refused, saving and loading.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { HostTensor, initParams, presetConfig } from "../src/index.js";
import { ConfigMismatchError } from "../src/errors.js";
import { loadHfCheckpoint, readSafetensors, saveHfCheckpoint } from "../src/node.js";
import { writeSafetensors } from "../src/io/safetensors.js";

const config = { ...presetConfig("gemma2-tiny"), vocabSize: 256 };
const params = initParams(config, 2);
const head = HostTensor.float32([1, config.hiddenSize], Array.from({ length: config.hiddenSize }, (_, i) => Math.sin(i)));
const folders: string[] = [];
const folder = async () => {
  const dir = await mkdtemp(join(tmpdir(), "gemma-ts-rm-"));
  folders.push(dir);
  return dir;
};
afterAll(() => Promise.all(folders.map((dir) => rm(dir, { recursive: true, force: true }))));

describe("reward model folders", () => {
  it("save the value head as score.weight and load it back", async () => {
    const dir = await folder();
    await saveHfCheckpoint(dir, config, params, { valueHead: head });
    const hfConfig = JSON.parse(await readFile(join(dir, "config.json"), "utf8"));
    expect(hfConfig.architectures).toEqual(["Gemma2ForSequenceClassification"]);
    expect(Object.keys(hfConfig.id2label)).toHaveLength(1);
    expect((await readSafetensors(join(dir, "model.safetensors"))).has("score.weight")).toBe(true);
    const loaded = await loadHfCheckpoint(dir);
    expect(Array.from(loaded.valueHead!.data)).toEqual(Array.from(head.data));
    expect(loaded.params.size).toBe(params.size);
  });

  it("a causal LM's folder has no head", async () => {
    const dir = await folder();
    await saveHfCheckpoint(dir, config, params);
    expect((await loadHfCheckpoint(dir)).valueHead).toBeUndefined();
  });

  it("refuse a head of the wrong shape", async () => {
    const wide = HostTensor.float32([2, config.hiddenSize], new Float32Array(2 * config.hiddenSize));
    await expect(saveHfCheckpoint(await folder(), config, params, { valueHead: wide })).rejects.toThrow(ConfigMismatchError);
    const dir = await folder();
    await saveHfCheckpoint(dir, config, params, { valueHead: head });
    const tensors = await readSafetensors(join(dir, "model.safetensors"));
    tensors.set("score.weight", HostTensor.float32([1, 3], [1, 2, 3]));
    await writeSafetensors(join(dir, "model.safetensors"), [...tensors]);
    await expect(loadHfCheckpoint(dir)).rejects.toThrow(/score\.weight.*expected a one-label value head/);
  });
});
