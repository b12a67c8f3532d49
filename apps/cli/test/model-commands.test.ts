// The model commands, run as a user runs them (the built binary): init writes a checkpoint that
// info describes, logits prints what the library computes, convert writes a GGUF whose logits
// match the folder's (and Q8_0 / Q4_0 GGUFs that logits runs as stored, exactly as the library's
// q8 / q4 model), an ONNX folder that onnxruntime runs to the same logits, and bad input gets a
// one-line error.
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Gemma2Model, ReferenceBackend, parameterCount, presetConfig } from "@gemma-ts/core";
import { loadHfCheckpoint, OnnxBackend, readGguf } from "@gemma-ts/core/node";
import { trainBpe } from "@gemma-ts/tokenizer";
import { InferenceSession, Tensor } from "onnxruntime-node";
import { afterAll, describe, expect, it } from "vitest";

const BIN = fileURLToPath(new URL("../dist/main.js", import.meta.url));
const folder = mkdtempSync(join(tmpdir(), "gemma-ts-cli-"));
const model = join(folder, "tiny");

function cli(...args: string[]) {
  const result = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", maxBuffer: 1 << 28 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

afterAll(() => rmSync(folder, { recursive: true, force: true }));

describe("gemma-ts model commands", () => {
  it("init writes a checkpoint that info describes", () => {
    expect(cli("init", "--preset", "gemma2-tiny", "--out", model, "--seed", "5").status).toBe(0);
    const info = JSON.parse(cli("info", "--model", model).stdout);
    expect(info.parameterCount).toBe(parameterCount(presetConfig("gemma2-tiny")));
    expect(info.config.slidingWindow).toBe(8);
    expect(JSON.parse(cli("info", "--preset", "gemma2-2b").stdout).parameterCount).toBe(2_614_341_888);
  });

  it("logits prints the library's logits for every position", async () => {
    const ids = [2, 17, 300, 45, 45, 9];
    const printed = JSON.parse(cli("logits", "--model", model, "--ids", ids.join(",")).stdout) as number[][];
    const { config, params } = await loadHfCheckpoint(model);
    const expected = await new Gemma2Model(config, params, new ReferenceBackend()).forward([ids]);
    expect(printed.length).toBe(ids.length);
    let max = 0;
    printed.forEach((row, t) => row.forEach((value, v) => (max = Math.max(max, Math.abs(value - expected.data[t * config.vocabSize + v]!)))));
    expect(max).toBeLessThan(1e-4);
  });

  it("convert writes a GGUF with the same logits, and logits --out writes a file", () => {
    const gguf = join(folder, "tiny.gguf");
    expect(cli("convert", "--from", model, "--to", gguf, "--dtype", "f32").status).toBe(0);
    const out = join(folder, "logits.json");
    expect(cli("logits", "--model", gguf, "--ids", "2,8,9", "--out", out).status).toBe(0);
    const fromGguf = JSON.parse(readFileSync(out, "utf8")) as number[][];
    const fromFolder = JSON.parse(cli("logits", "--model", model, "--ids", "2,8,9").stdout) as number[][];
    fromGguf.forEach((row, t) => row.forEach((value, v) => expect(Math.abs(value - fromFolder[t]![v]!)).toBeLessThan(1e-5)));
  });

  it("convert --dtype q4_0 / --quantize q8 write quantized GGUFs that logits runs as stored", async () => {
    const ids = [2, 17, 300, 45, 45, 9];
    const { config, params } = await loadHfCheckpoint(model);
    const printed = (...args: string[]) => {
      const result = cli("logits", "--ids", ids.join(","), "--threads", "1", ...args);
      expect(result.status, result.stderr).toBe(0);
      return Float32Array.from((JSON.parse(result.stdout) as number[][]).flat());
    };
    for (const [flag, value, dtype, quantize] of [["--dtype", "q4_0", "q4_0", "q4"], ["--quantize", "q8", "q8_0", "q8"]] as const) {
      const gguf = join(folder, `tiny-${dtype}.gguf`);
      const converted = cli("convert", "--from", model, "--to", gguf, flag, value);
      expect(converted.status, converted.stderr).toBe(0);
      expect(JSON.parse(converted.stdout).dtype).toBe(dtype);
      expect((await readGguf(gguf)).metadata.get("general.file_type")).toBe(dtype === "q4_0" ? 2 : 7);
      // The stored blocks are our quantizer's, so the logits are bit for bit the library's quantized model's.
      const expected = await new Gemma2Model(config, params, new OnnxBackend({ intraOpThreads: 1 }), { quantize }).forward([ids]);
      expect(printed("--model", gguf)).toEqual(expected.data);
      expect(printed("--model", gguf, "--quantize", quantize)).toEqual(expected.data);
    }
    // Another width than the file's quantizes again, from the stored values.
    const q4 = await new Gemma2Model(config, params, new OnnxBackend({ intraOpThreads: 1 }), { quantize: "q4" }).forward([ids]);
    const requantized = printed("--model", join(folder, "tiny-q8_0.gguf"), "--quantize", "q4");
    let difference = 0;
    for (let i = 0; i < requantized.length; i++) difference = Math.max(difference, Math.abs(requantized[i]! - q4.data[i]!));
    expect(difference).toBeGreaterThan(0);
    expect(difference).toBeLessThan(0.1);
  });

  it("convert --to-onnx writes an ONNX folder with the same logits, copying the tokenizer files", async () => {
    const source = join(folder, "tiny-with-tokenizer");
    cpSync(model, source, { recursive: true });
    const trained = await trainBpe(["The state of the Union is strong.\nWe will build, and we will grow."], { vocabSize: 512 });
    writeFileSync(join(source, "tokenizer.json"), trained.toJsonString());
    const tokenizerConfig = '{"tokenizer_class": "GemmaTokenizer", "model_max_length": 1000000000000000019884624838656}\n';
    writeFileSync(join(source, "tokenizer_config.json"), tokenizerConfig);
    const out = join(folder, "tiny-onnx");
    const converted = cli("convert", "--from", source, "--to-onnx", out);
    expect(converted.status, converted.stderr).toBe(0);
    expect(JSON.parse(converted.stdout).files).toEqual(["onnx/model.onnx", "tokenizer.json", "tokenizer_config.json", "generation_config.json", "config.json"]);
    expect(readFileSync(join(out, "tokenizer.json"), "utf8")).toBe(trained.toJsonString());
    expect(readFileSync(join(out, "tokenizer_config.json"), "utf8")).toBe(tokenizerConfig); // byte for byte

    const ids = [2, 17, 300, 45, 45, 9];
    const { config, params } = await loadHfCheckpoint(model);
    const expected = await new Gemma2Model(config, params, new ReferenceBackend()).forward([ids]);
    const session = await InferenceSession.create(join(out, "onnx", "model.onnx"));
    const int64 = (values: number[]) => new Tensor("int64", BigInt64Array.from(values, BigInt), [1, values.length]);
    const feeds: Record<string, Tensor> = { input_ids: int64(ids), attention_mask: int64(ids.map(() => 1)), position_ids: int64(ids.map((_, t) => t)) };
    for (let i = 0; i < config.numHiddenLayers; i++) {
      for (const part of ["key", "value"]) feeds[`past_key_values.${i}.${part}`] = new Tensor("float32", new Float32Array(0), [1, config.numKeyValueHeads, 0, config.headDim]);
    }
    const logits = (await session.run(feeds)).logits!.data as Float32Array;
    await session.release();
    let max = 0;
    logits.forEach((value, i) => (max = Math.max(max, Math.abs(value - expected.data[i]!))));
    expect(max).toBeLessThan(1e-4);
  });

  it("convert takes --to or --to-onnx, not both, and --dtype / --quantize only for GGUF, one of them", () => {
    const both = cli("convert", "--from", model, "--to", join(folder, "x.gguf"), "--to-onnx", join(folder, "x-onnx"));
    expect(both.status).toBe(1);
    expect(both.stderr).toMatch(/cannot be used with/);
    expect(cli("convert", "--from", model).stderr).toMatch(/^gemma-ts: .*--to-onnx/);
    expect(cli("convert", "--from", model, "--to-onnx", join(folder, "x-onnx"), "--dtype", "f16").stderr).toMatch(/^gemma-ts: .*--dtype and --quantize apply to --to/);
    expect(cli("convert", "--from", model, "--to-onnx", join(folder, "x-onnx"), "--quantize", "q4").stderr).toMatch(/^gemma-ts: .*--dtype and --quantize apply to --to/);
    expect(cli("convert", "--from", model, "--to", join(folder, "x.gguf"), "--dtype", "f16", "--quantize", "q4").stderr).toMatch(/cannot be used with/);
    expect(cli("convert", "--from", model, "--to", join(folder, "x.gguf"), "--quantize", "q5").stderr).toMatch(/--quantize must be one of/);
  });

  it("reports bad input in one line and exits 1", () => {
    const outOfRange = cli("logits", "--model", model, "--ids", "2,512");
    expect(outOfRange.status).toBe(1);
    expect(outOfRange.stderr).toMatch(/^gemma-ts: .*token id 512 is outside the vocabulary/);
    const missing = cli("info", "--model", join(folder, "nothing"));
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/^gemma-ts: /);
    expect(cli("logits", "--model", model, "--ids", "2,x").stderr).toMatch(/comma-separated/);
  });
});
