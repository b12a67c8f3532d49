// GGUF export and import for Gemma 2: write -> read round trips in F32 (bitwise), F16 and Q8_0
// (Q8_0 bytes checked against an independent transcription of ggml's quantize_row_q8_0_ref), the
// header layout llama.cpp expects, llama.cpp itself (node-llama-cpp) loading and running the export,
// and the typed error of every malformed file.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ConfigMismatchError,
  float16ToFloat32,
  float32ToFloat16,
  HostTensor,
  initParams,
  InvalidConfigError,
  MalformedCheckpointError,
  parameterSpecs,
  presetConfig,
  Random,
  UnsupportedDTypeError,
  type Gemma2Config,
  type Gemma2Params,
} from "../src/index.js";
import {
  decodeGgufHeader,
  dequantizeQ8_0,
  encodeGgufHeader,
  ggufTensorName,
  quantizeQ8_0,
  readGguf,
  readGgufConfig,
  synthesizeVocabulary,
  writeGguf,
  type GgufHeader,
} from "../src/node.js";
import { disposeLlamaCpp, llamaCppLogProbs, maxLogProbDifference } from "./support/llama-cpp.js";
import { referenceFp16Bits } from "./support/fp16-reference.js";

const config = presetConfig("gemma2-tiny");
/** Random norms too (init makes them zero), so the +1 on write and -1 on read are exercised. */
const params = withRandomNorms(initParams(config, 7), 8);
let root: string;
let count = 0;
const written = new Map<string, string>();

function withRandomNorms(source: Gemma2Params, seed: number): Gemma2Params {
  const random = new Random(seed);
  for (const spec of parameterSpecs(config)) {
    if (spec.kind !== "norm") continue;
    source.get(spec.name)!.data.forEach((_, i, data) => (data[i] = random.normal() * 0.3));
  }
  return source;
}

function freshPath(): string {
  return join(root, `case-${count++}.gguf`);
}

/** The file for a dtype, written once and shared by the tests that only read it. */
async function exported(dtype: "f32" | "f16" | "q8_0"): Promise<string> {
  let path = written.get(dtype);
  if (!path) {
    path = freshPath();
    await writeGguf(path, config, params, { dtype });
    written.set(dtype, path);
  }
  return path;
}

async function header(path: string): Promise<GgufHeader> {
  const bytes = new Uint8Array(await readFile(path));
  return decodeGgufHeader(bytes, bytes.length, path);
}

async function tensorBytes(path: string, ggufName: string, byteLength: number): Promise<Uint8Array> {
  const bytes = new Uint8Array(await readFile(path));
  const parsed = decodeGgufHeader(bytes, bytes.length, path);
  const info = parsed.tensors.find((t) => t.name === ggufName)!;
  const start = parsed.dataOffset + info.offset;
  return bytes.subarray(start, start + byteLength);
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "gemma-ts-gguf-"));
});
afterAll(async () => {
  await disposeLlamaCpp();
  await rm(root, { recursive: true, force: true });
});

// ---- an independent reference for Q8_0 ------------------------------------------------------------


/** ggml's quantize_row_q8_0_ref, line by line: float32 maths, roundf (halves away from zero). */
function referenceQuantizeRowQ8_0(x: Float32Array): Uint8Array {
  const qk = 32;
  const y = new Uint8Array((x.length / qk) * 34);
  const view = new DataView(y.buffer);
  for (let i = 0; i < x.length / qk; i++) {
    let amax = 0;
    for (let j = 0; j < qk; j++) {
      const v = Math.abs(x[i * qk + j]!);
      if (v > amax) amax = v;
    }
    const d = Math.fround(amax / ((1 << 7) - 1));
    const id = d !== 0 ? Math.fround(1 / d) : 0;
    view.setUint16(i * 34, referenceFp16Bits(d), true);
    for (let j = 0; j < qk; j++) {
      const x0 = Math.fround(x[i * qk + j]! * id);
      const truncated = Math.trunc(x0);
      const rounded = Math.abs(x0 - truncated) >= 0.5 ? truncated + Math.sign(x0) : truncated;
      view.setInt8(i * 34 + 2 + j, rounded);
    }
  }
  return y;
}

function referenceDequantizeQ8_0(bytes: Uint8Array, n: number): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Float32Array.from({ length: n }, (_, k) => {
    const block = Math.floor(k / 32);
    return view.getInt8(block * 34 + 2 + (k % 32)) * float16ToFloat32(view.getUint16(block * 34, true));
  });
}

// ---- round trips --------------------------------------------------------------------------------

describe("GGUF round trips", () => {
  it("f32: config back exactly, 2-D weights bitwise, norms as fround(fround(1 + w) - 1)", async () => {
    const path = await exported("f32");
    const { config: read, params: back, metadata } = await readGguf(path);
    expect(read).toEqual(config);
    expect([...back.keys()]).toEqual(parameterSpecs(config).map((s) => s.name));
    for (const spec of parameterSpecs(config)) {
      const original = params.get(spec.name)!;
      const got = back.get(spec.name)!;
      expect(got.shape, spec.name).toEqual(spec.shape);
      if (spec.kind === "norm") {
        const expected = original.data.map((w) => Math.fround(Math.fround(1 + w) - 1));
        expect(got.data, spec.name).toEqual(expected);
        // The stored value really is 1 + w: llama.cpp multiplies by it directly.
        const stored = new Float32Array((await tensorBytes(path, ggufTensorName(spec.name), 4 * original.size)).slice().buffer);
        expect(stored).toEqual(original.data.map((w) => 1 + w));
      } else {
        expect(Buffer.from(got.data.buffer).equals(Buffer.from(original.data.buffer)), spec.name).toBe(true);
      }
    }
    expect(metadata.get("general.architecture")).toBe("gemma2");
    expect(metadata.get("general.file_type")).toBe(0);
    expect(metadata.get("tokenizer.ggml.add_space_prefix")).toBe(false);
  });

  it("readGgufConfig reads the config and metadata from the header alone, as readGguf does", async () => {
    const path = await exported("f32");
    const full = await readGguf(path);
    const { config: fromHeader, metadata } = await readGgufConfig(path);
    expect(fromHeader).toEqual(full.config);
    expect(metadata).toEqual(full.metadata);
  });

  it("f16: 2-D weights rounded once to binary16, norms kept in f32", async () => {
    const path = await exported("f16");
    const { config: read, params: back, metadata } = await readGguf(path);
    expect(read).toEqual(config);
    expect(metadata.get("general.file_type")).toBe(1);
    const types = new Map((await header(path)).tensors.map((t) => [t.name, t.type]));
    for (const spec of parameterSpecs(config)) {
      const original = params.get(spec.name)!.data;
      const got = back.get(spec.name)!.data;
      expect(types.get(ggufTensorName(spec.name)), spec.name).toBe(spec.kind === "norm" ? 0 : 1);
      const expected = spec.kind === "norm" ? original.map((w) => Math.fround(Math.fround(1 + w) - 1)) : original.map((x) => float16ToFloat32(float32ToFloat16(x)));
      expect(got, spec.name).toEqual(expected);
    }
  });

  it("q8_0: bytes equal ggml's reference quantiser and read back dequantised", async () => {
    const path = await exported("q8_0");
    const { params: back, metadata } = await readGguf(path);
    expect(metadata.get("general.file_type")).toBe(7);
    for (const spec of parameterSpecs(config)) {
      const original = params.get(spec.name)!.data;
      const got = back.get(spec.name)!.data;
      if (spec.kind === "norm") {
        expect(got, spec.name).toEqual(original.map((w) => Math.fround(Math.fround(1 + w) - 1)));
        continue;
      }
      const reference = referenceQuantizeRowQ8_0(original);
      const onDisk = await tensorBytes(path, ggufTensorName(spec.name), reference.length);
      expect(Buffer.from(onDisk).equals(Buffer.from(reference)), spec.name).toBe(true);
      expect(got, spec.name).toEqual(referenceDequantizeQ8_0(reference, original.length));
      // Within half a quantisation step of the original, plus up to 127 times the fp16 rounding of the step.
      for (let block = 0; block < original.length / 32; block++) {
        const slice = original.subarray(block * 32, block * 32 + 32);
        const step = Math.max(...Array.from(slice, Math.abs)) / 127;
        for (let j = 0; j < 32; j++) expect(Math.abs(got[block * 32 + j]! - slice[j]!)).toBeLessThanOrEqual(step * (0.5 + 127 * 2 ** -11));
      }
    }
  });

  it("rounds halves away from zero and keeps an all-zero block zero, as roundf and ggml do", () => {
    const values = new Float32Array(64);
    values[0] = 127;
    values[1] = 2.5;
    values[2] = -2.5;
    values[3] = -0.5;
    const ours = new Uint8Array(68);
    const reference = referenceQuantizeRowQ8_0(values);
    expect(new DataView(reference.buffer).getInt8(3)).toBe(3);
    expect(new DataView(reference.buffer).getInt8(4)).toBe(-3);
    expect(new DataView(reference.buffer).getInt8(5)).toBe(-1);
    quantizeQ8_0(values, ours);
    expect(Buffer.from(ours).equals(Buffer.from(reference))).toBe(true);
    const back = new Float32Array(64);
    dequantizeQ8_0(ours, back);
    expect(Array.from(back.subarray(32))).toEqual(new Array(32).fill(0));
  });
});

// ---- the layout llama.cpp reads -------------------------------------------------------------------

describe("GGUF layout for llama.cpp", () => {
  it("writes v3 with gemma2 metadata, innermost-first dims and 32-byte aligned data", async () => {
    const path = await exported("f32");
    const bytes = await readFile(path);
    expect(bytes.subarray(0, 4).toString("latin1")).toBe("GGUF");
    const parsed = await header(path);
    expect(parsed.version).toBe(3);
    expect(parsed.dataOffset % 32).toBe(0);
    const m = parsed.metadata;
    expect(Object.fromEntries([...m].filter(([key]) => key.startsWith("gemma2.")))).toEqual({
      "gemma2.context_length": 256,
      "gemma2.embedding_length": 64,
      "gemma2.block_count": 4,
      "gemma2.feed_forward_length": 128,
      "gemma2.attention.head_count": 4,
      "gemma2.attention.head_count_kv": 2,
      "gemma2.attention.key_length": 16,
      "gemma2.attention.value_length": 16,
      "gemma2.attention.layer_norm_rms_epsilon": Math.fround(1e-6),
      "gemma2.attention.sliding_window": 8,
      "gemma2.attn_logit_softcapping": 50,
      "gemma2.final_logit_softcapping": 30,
      "gemma2.rope.freq_base": 10000,
    });
    expect(m.get("general.quantization_version")).toBe(2);
    expect(m.get("tokenizer.ggml.model")).toBe("llama");
    expect(m.get("tokenizer.ggml.pre")).toBe("default");
    const tokens = m.get("tokenizer.ggml.tokens") as string[];
    expect(tokens.length).toBe(512);
    expect(new Set(tokens).size).toBe(512);
    expect(tokens.slice(0, 5)).toEqual(["<pad>", "<eos>", "<bos>", "<unk>", "<0x00>"]);
    expect((m.get("tokenizer.ggml.token_type") as number[]).slice(0, 5)).toEqual([3, 3, 3, 2, 6]);
    expect([m.get("tokenizer.ggml.bos_token_id"), m.get("tokenizer.ggml.eos_token_id"), m.get("tokenizer.ggml.unknown_token_id"), m.get("tokenizer.ggml.padding_token_id")]).toEqual([2, 1, 3, 0]);
    expect(m.get("tokenizer.ggml.add_bos_token")).toBe(true);
    const byName = new Map(parsed.tensors.map((t) => [t.name, t]));
    expect(parsed.tensors.length).toBe(2 + 11 * 4);
    expect(byName.get("token_embd.weight")?.dims).toEqual([64, 512]);
    expect(byName.get("blk.0.attn_q.weight")?.dims).toEqual([64, 64]);
    expect(byName.get("blk.0.attn_k.weight")?.dims).toEqual([64, 32]);
    expect(byName.get("blk.3.ffn_down.weight")?.dims).toEqual([128, 64]);
    expect(byName.get("blk.3.ffn_norm.weight")?.dims).toEqual([64]);
    expect(byName.has("output.weight")).toBe(false);
    for (const t of parsed.tensors) expect(t.offset % 32, t.name).toBe(0);
    // token_embd's bytes are the PyTorch row-major bytes.
    const embedding = params.get("model.embed_tokens.weight")!.data;
    const stored = await tensorBytes(path, "token_embd.weight", embedding.byteLength);
    expect(Buffer.from(stored).equals(Buffer.from(embedding.buffer))).toBe(true);
    expect(bytes.length % 32).toBe(0);
  });

  it("synthesises a unique vocabulary of any size, with specials at the config's ids", () => {
    const small = synthesizeVocabulary({ ...config, vocabSize: 100 }).tokens;
    expect(small.length).toBe(100);
    expect(new Set(small).size).toBe(100);
    expect(small.some((t) => t.startsWith("<0x"))).toBe(false);
    const moved = synthesizeVocabulary({ ...config, vocabSize: 300, bosTokenId: 5, eosTokenId: [7, 9], padTokenId: 0 }).tokens;
    expect([moved[0], moved[5], moved[7], moved[1]]).toEqual(["<pad>", "<bos>", "<eos>", "<unk>"]);
    expect(moved.filter((t) => /^<0x[0-9A-F]{2}>$/.test(t)).length).toBe(256);
  });

  it("writes a given vocabulary and chat template", async () => {
    const tokens = Array.from({ length: config.vocabSize }, (_, i) => (i === 3 ? "<unk>" : `▁piece${i}`));
    tokens[0] = "<pad>";
    tokens[1] = "<eos>";
    tokens[2] = "<bos>";
    const scores = Array.from(tokens, (_, i) => -i);
    const path = freshPath();
    await writeGguf(path, config, params, { dtype: "f32", vocabulary: { tokens, scores }, chatTemplate: "{{ bos_token }}", name: "tiny" });
    const { metadata } = await readGguf(path);
    expect(metadata.get("tokenizer.ggml.tokens")).toEqual(tokens);
    expect(metadata.get("tokenizer.ggml.scores")).toEqual(scores);
    expect(metadata.get("tokenizer.chat_template")).toBe("{{ bos_token }}");
    expect(metadata.get("general.name")).toBe("tiny");
    await expect(writeGguf(freshPath(), config, params, { dtype: "f32", vocabulary: { tokens: tokens.slice(1) } })).rejects.toThrow(/511 tokens for vocabSize 512/);
  });

  it("writes headers larger than the writer's first buffer (long pieces, all kinds of values)", async () => {
    // 512 pieces of ~300 bytes make a header of ~160 kB, past the 64 kB the writer starts with.
    const tokens = Array.from({ length: config.vocabSize }, (_, i) => `▁${"long".repeat(75)}${i}`);
    const scores = Array.from(tokens, (_, i) => -i / 7);
    const path = freshPath();
    await writeGguf(path, config, params, { dtype: "f32", vocabulary: { tokens, scores } });
    const { metadata } = await readGguf(path);
    expect(metadata.get("tokenizer.ggml.tokens")).toEqual(tokens);
    expect(metadata.get("tokenizer.ggml.scores")).toEqual(scores.map((score) => Math.fround(score)));
  });
});

// ---- llama.cpp ----------------------------------------------------------------------------------

describe("llama.cpp (node-llama-cpp) on the export", () => {
  const random = new Random(99);
  const ids = [config.bosTokenId, ...Array.from({ length: 23 }, () => Math.floor(random.uniform() * config.vocabSize))];

  it("loads the f32 GGUF of a random gemma2-tiny and returns a distribution per position", async () => {
    const rows = await llamaCppLogProbs(await exported("f32"), ids, { threads: 2 });
    expect(rows.length).toBe(24);
    for (const [position, row] of rows.entries()) {
      expect(row.length).toBe(config.vocabSize);
      expect(row.every(Number.isFinite), `position ${position}`).toBe(true);
      const total = row.reduce((sum, logProb) => sum + Math.exp(logProb), 0);
      expect(Math.abs(total - 1), `position ${position}`).toBeLessThan(1e-3);
    }
    // A random model is nearly uniform, yet the rows must depend on the context.
    expect(maxLogProbDifference([rows[5]!], [rows[6]!]).max).toBeGreaterThan(1e-4);
  });

  it("reads f16 and q8_0 exports as the same model, up to their rounding", async () => {
    const reference = await llamaCppLogProbs(await exported("f32"), ids, { threads: 2 });
    const f16 = await llamaCppLogProbs(await exported("f16"), ids, { threads: 2 });
    const q8 = await llamaCppLogProbs(await exported("q8_0"), ids, { threads: 2 });
    // The signal: how far the model is from uniform (about 0.67 here). A misread scale or byte order
    // would move the rows by that much; rounding moves them by ~7e-4 (F16) and ~2e-2 (Q8_0, whose
    // matmuls also quantise the activations).
    const uniform = reference.map((row) => new Float32Array(row.length).fill(-Math.log(row.length)));
    expect(maxLogProbDifference(reference, uniform).max).toBeGreaterThan(0.3);
    expect(maxLogProbDifference(f16, reference).max).toBeLessThan(3e-3);
    expect(maxLogProbDifference(q8, reference).max).toBeLessThan(5e-2);
  });
});

// ---- malformed files ----------------------------------------------------------------------------

/** A copy of the f32 export with `edit` applied to its bytes. */
async function corrupted(edit: (bytes: Buffer) => Buffer): Promise<string> {
  const path = freshPath();
  await writeFile(path, edit(Buffer.from(await readFile(await exported("f32")))));
  return path;
}

/** The byte offset of a tensor's ggml type field in the header. */
function typeFieldOffset(bytes: Buffer, ggufName: string, nDims: number): number {
  const name = Buffer.from(ggufName, "utf8");
  const lengthPrefix = Buffer.alloc(8);
  lengthPrefix.writeBigUInt64LE(BigInt(name.length));
  const at = bytes.indexOf(Buffer.concat([lengthPrefix, name]));
  return at + 8 + name.length + 4 + 8 * nDims;
}

describe("GGUF errors", () => {
  it("rejects a file that is not GGUF", async () => {
    const path = await corrupted((b) => Buffer.concat([Buffer.from("GGML"), b.subarray(4)]));
    await expect(readGguf(path)).rejects.toThrow(MalformedCheckpointError);
    await expect(readGguf(path)).rejects.toThrow(/not a GGUF file: magic bytes are 47 47 4d 4c/);
  });

  it("rejects other versions", async () => {
    const path = await corrupted((b) => {
      b.writeUInt32LE(2, 4);
      return b;
    });
    await expect(readGguf(path)).rejects.toThrow(/unsupported GGUF version 2/);
  });

  it("rejects truncated files, in the header and in the data", async () => {
    const inHeader = await corrupted((b) => b.subarray(0, 1000));
    await expect(readGguf(inHeader)).rejects.toThrow(MalformedCheckpointError);
    await expect(readGguf(inHeader)).rejects.toThrow(/truncated: metadata '.*the file has/);
    const inData = await corrupted((b) => b.subarray(0, b.length - 100));
    await expect(readGguf(inData)).rejects.toThrow(/truncated: tensor 'output_norm.weight'/);
    const empty = await corrupted(() => Buffer.alloc(0));
    await expect(readGguf(empty)).rejects.toThrow(/truncated: magic/);
  });

  it("names unknown and unsupported ggml types", async () => {
    const unknown = await corrupted((b) => {
      b.writeUInt32LE(99, typeFieldOffset(b, "blk.1.attn_v.weight", 2));
      return b;
    });
    await expect(readGguf(unknown)).rejects.toThrow(UnsupportedDTypeError);
    await expect(readGguf(unknown)).rejects.toThrow(/'unknown ggml type 99' for GGUF tensor 'blk.1.attn_v.weight'/);
    const kQuant = await corrupted((b) => {
      b.writeUInt32LE(12, typeFieldOffset(b, "blk.0.attn_q.weight", 2));
      return b;
    });
    await expect(readGguf(kQuant)).rejects.toThrow(/'Q4_K'/);
  });

  it("rejects architectures other than gemma2", async () => {
    const path = freshPath();
    await writeFile(path, encodeGgufHeader([{ key: "general.architecture", type: "string", value: "llama" }], [{ name: "token_embd.weight", dims: [64, 512], type: 0, offset: 0 }]));
    await expect(readGguf(path)).rejects.toThrow(InvalidConfigError);
    await expect(readGguf(path)).rejects.toThrow(/general.architecture.*"llama"/);
  });

  it("rejects misaligned offsets and tensors that do not match the config", async () => {
    const misaligned = freshPath();
    await writeFile(misaligned, encodeGgufHeader([{ key: "general.architecture", type: "string", value: "gemma2" }], [{ name: "token_embd.weight", dims: [64, 512], type: 0, offset: 4 }]));
    await expect(readGguf(misaligned)).rejects.toThrow(/offset 4 is not a multiple of the alignment 32/);
    const missingKey = freshPath();
    await writeFile(missingKey, encodeGgufHeader([{ key: "general.architecture", type: "string", value: "gemma2" }], [{ name: "token_embd.weight", dims: [64, 512], type: 0, offset: 0 }]));
    await expect(readGguf(missingKey)).rejects.toThrow(/'gemma2.embedding_length': missing/);
  });

  it("refuses to write what llama.cpp would compute differently, or tensors of the wrong shape", async () => {
    const scaled: Gemma2Config = { ...config, queryPreAttnScalar: 32 };
    await expect(writeGguf(freshPath(), scaled, params, { dtype: "f32" })).rejects.toThrow(InvalidConfigError);
    await expect(writeGguf(freshPath(), { ...config, finalLogitSoftcapping: null }, params, { dtype: "f32" })).rejects.toThrow(/finalLogitSoftcapping/);
    const wrong = new Map(params);
    wrong.set("model.norm.weight", HostTensor.float32([32]));
    await expect(writeGguf(freshPath(), config, wrong, { dtype: "f32" })).rejects.toThrow(ConfigMismatchError);
    const missing = new Map(params);
    missing.delete("model.layers.2.mlp.up_proj.weight");
    await expect(writeGguf(freshPath(), config, missing, { dtype: "q8_0" })).rejects.toThrow(/'model.layers.2.mlp.up_proj.weight'.*missing/);
  });
});
