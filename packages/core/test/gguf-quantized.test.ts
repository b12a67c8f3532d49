// Quantized GGUF: Q4_0 export byte for byte against an independent transcription of ggml's
// quantize_row_q4_0_ref; Q4_0 read back (dequantised) as our own q4 rounding; the import that
// keeps Q8_0 / Q4_0 matrices quantized gives exactly quantizeMatrix's blocks and scales, files
// mixing types included, and a Gemma2Model built from it the same logits as one quantizing the
// float32 weights itself; llama.cpp (node-llama-cpp) runs the Q4_0 export like gemma-ts's q4 model.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  dequantizeMatrix,
  float16ToFloat32,
  float32ToFloat16,
  Gemma2Model,
  isQuantizable,
  parameterSpecs,
  quantizeMatrix,
  Random,
  ReferenceBackend,
  type Gemma2Params,
  type QuantizedMatrix,
} from "../src/index.js";
import {
  decodeGgufHeader,
  dequantizeQ4_0,
  ggufTensorName,
  OnnxBackend,
  quantizeQ4_0,
  readGguf,
  readGgufQuantized,
  writeGguf,
  type GgufDType,
} from "../src/node.js";
import { disposeLlamaCpp, llamaCppLogProbs, logSoftmaxRows, maxLogProbDifference } from "./support/llama-cpp.js";
import { randomModel, sampleIds } from "./support/random-model.js";
import { referenceFp16Bits } from "./support/fp16-reference.js";

const { config, params } = randomModel();
const specs = parameterSpecs(config);
const matrices = specs.filter((s) => s.kind !== "norm");
let root: string;
let count = 0;
const written = new Map<string, Promise<string>>();

function freshPath(): string {
  return join(root, `case-${count++}.gguf`);
}

/** The export of `params` in one dtype, written once. */
function exported(dtype: GgufDType): Promise<string> {
  let path = written.get(dtype);
  if (!path) {
    const target = freshPath();
    path = writeGguf(target, config, params, { dtype }).then(() => target);
    written.set(dtype, path);
  }
  return path;
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "gemma-ts-gguf-quantized-"));
});
afterAll(async () => {
  await disposeLlamaCpp();
  await rm(root, { recursive: true, force: true });
});

// ---- an independent reference for Q4_0 ------------------------------------------------------------


/**
 * ggml's quantize_row_q4_0_ref, line by line: max is the first value of largest magnitude,
 * d = max / -8 and x * (1 / d) + 8.5 in float32, (int8_t) truncates, MIN(15, .); byte j holds
 * element j (low nibble) and element j + 16 (high nibble).
 */
function referenceQuantizeRowQ4_0(x: Float32Array): Uint8Array {
  const qk = 32;
  const y = new Uint8Array((x.length / qk) * 18);
  const view = new DataView(y.buffer);
  for (let i = 0; i < x.length / qk; i++) {
    let amax = 0;
    let max = 0;
    for (let j = 0; j < qk; j++) {
      const v = x[i * qk + j]!;
      if (amax < Math.abs(v)) {
        amax = Math.abs(v);
        max = v;
      }
    }
    const d = Math.fround(max / -8);
    const id = d ? Math.fround(1 / d) : 0;
    view.setUint16(i * 18, referenceFp16Bits(d), true);
    for (let j = 0; j < qk / 2; j++) {
      const x0 = Math.fround(x[i * qk + j]! * id);
      const x1 = Math.fround(x[i * qk + qk / 2 + j]! * id);
      const xi0 = Math.min(15, Math.trunc(Math.fround(x0 + 8.5)));
      const xi1 = Math.min(15, Math.trunc(Math.fround(x1 + 8.5)));
      y[i * 18 + 2 + j] = xi0 | (xi1 << 4);
    }
  }
  return y;
}

/** ggml's dequantize_row_q4_0. */
function referenceDequantizeQ4_0(bytes: Uint8Array, n: number): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Float32Array.from({ length: n }, (_, k) => {
    const block = Math.floor(k / 32);
    const j = k % 32;
    const byte = bytes[block * 18 + 2 + (j % 16)]!;
    return ((j < 16 ? byte & 15 : byte >> 4) - 8) * float16ToFloat32(view.getUint16(block * 18, true));
  });
}

// ---- helpers ------------------------------------------------------------------------------------

async function tensorBytes(path: string, ggufName: string): Promise<{ type: number; bytes: Uint8Array }> {
  const file = new Uint8Array(await readFile(path));
  const header = decodeGgufHeader(file, file.length, path);
  const index = header.tensors.findIndex((t) => t.name === ggufName);
  const info = header.tensors[index]!;
  const start = header.dataOffset + info.offset;
  const next = header.tensors[index + 1];
  return { type: info.type, bytes: file.subarray(start, next ? header.dataOffset + next.offset : file.length) };
}

/** The byte offset of a tensor's ggml type field (u32, then its u64 data offset) in the header. */
function typeFieldOffset(bytes: Buffer, ggufName: string, nDims: number): number {
  const name = Buffer.from(ggufName, "utf8");
  const lengthPrefix = Buffer.alloc(8);
  lengthPrefix.writeBigUInt64LE(BigInt(name.length));
  const at = bytes.indexOf(Buffer.concat([lengthPrefix, name]));
  return at + 8 + name.length + 4 + 8 * nDims;
}

/**
 * A GGUF whose tensors come from the exports of several dtypes, `pick` choosing per Hugging Face
 * name: the header of one export with each tensor's type and offset patched (fixed-width fields),
 * then the chosen tensors' bytes, each padded to 32 bytes.
 */
async function mixedGguf(pick: (name: string) => GgufDType): Promise<string> {
  const base = Buffer.from(await readFile(await exported("f32")));
  const header = decodeGgufHeader(base, base.length, "f32 export");
  const out = [base.subarray(0, header.dataOffset)];
  let offset = 0;
  for (const spec of specs) {
    const name = ggufTensorName(spec.name);
    const { type, bytes } = await tensorBytes(await exported(pick(spec.name)), name);
    const at = typeFieldOffset(out[0]!, name, spec.shape.length);
    out[0]!.writeUInt32LE(type, at);
    out[0]!.writeBigUInt64LE(BigInt(offset), at + 4);
    out.push(Buffer.from(bytes)); // already padded to the alignment
    offset += bytes.length;
  }
  const path = freshPath();
  await writeFile(path, Buffer.concat(out));
  return path;
}

function expectSameMatrix(got: QuantizedMatrix | undefined, expected: QuantizedMatrix, name: string): void {
  expect(got, name).toBeDefined();
  expect([got!.bits, got!.rows, got!.cols], name).toEqual([expected.bits, expected.rows, expected.cols]);
  expect(got!.blocks.shape, name).toEqual(expected.blocks.shape);
  expect(Buffer.from(got!.blocks.data).equals(Buffer.from(expected.blocks.data)), `${name} blocks`).toBe(true);
  // Bitwise, so a -0 scale (an all-zero block) must stay -0.
  expect(Buffer.from(got!.scales.data.buffer).equals(Buffer.from(expected.scales.data.buffer)), `${name} scales`).toBe(true);
}

const norm = (w: number) => Math.fround(Math.fround(1 + w) - 1);

// ---- Q4_0 export --------------------------------------------------------------------------------

describe("GGUF Q4_0 export", () => {
  it("writes every matrix as ggml's reference quantiser does, norms as F32, file_type MOSTLY_Q4_0", async () => {
    const path = await exported("q4_0");
    const { metadata } = await readGguf(path);
    expect(metadata.get("general.file_type")).toBe(2);
    for (const spec of specs) {
      const { type, bytes } = await tensorBytes(path, ggufTensorName(spec.name));
      if (spec.kind === "norm") {
        expect(type, spec.name).toBe(0);
        continue;
      }
      expect(type, spec.name).toBe(2);
      const reference = referenceQuantizeRowQ4_0(params.get(spec.name)!.data);
      expect(Buffer.from(bytes.subarray(0, reference.length)).equals(Buffer.from(reference)), spec.name).toBe(true);
    }
  });

  it("matches the reference on the edge cases: zero blocks, ties, clamping, signs, tiny and huge scales", () => {
    const random = new Random(3);
    const blocks: number[][] = [
      new Array(32).fill(0), // d = -0: fp16 0x8000, every code 8
      Array.from({ length: 32 }, () => random.normal()), // plain
      Array.from({ length: 32 }, (_, j) => (j === 5 ? 3 : j === 9 ? -3 : random.normal())), // tie, + first: d < 0
      Array.from({ length: 32 }, (_, j) => (j === 5 ? -3 : j === 9 ? 3 : random.normal())), // tie, - first: +3 clamps 16 -> 15
      Array.from({ length: 32 }, (_, j) => ((j % 16) - 8) * 0.25), // exact codes, halves: x / d + 8.5 lands on .5
      Array.from({ length: 32 }, () => random.normal() * 1e-6), // subnormal fp16 scale
      Array.from({ length: 32 }, () => random.normal() * 5e4), // scale near fp16's largest
      Array.from({ length: 32 }, (_, j) => (j === 31 ? 1 : 0)), // one value, at the end of the high half
    ];
    const values = new Float32Array(blocks.flat());
    const ours = new Uint8Array((values.length / 32) * 18);
    quantizeQ4_0(values, ours);
    const reference = referenceQuantizeRowQ4_0(values);
    expect(Buffer.from(ours).equals(Buffer.from(reference))).toBe(true);
    expect(new DataView(reference.buffer).getUint16(0, true)).toBe(0x8000);
    expect(reference[3 * 18 + 2 + 9]! & 15).toBe(15); // the clamp happened
    const back = new Float32Array(values.length);
    dequantizeQ4_0(ours, back);
    expect(Array.from(back)).toEqual(Array.from(referenceDequantizeQ4_0(reference, values.length)));
  });

  it("falls back to F16 for rows that are not whole blocks, as Q8_0 does", async () => {
    const odd = randomModel({ hiddenSize: 48, headDim: 16, numAttentionHeads: 3, numKeyValueHeads: 1, intermediateSize: 80 });
    const path = freshPath();
    await writeGguf(path, odd.config, odd.params, { dtype: "q4_0" });
    // Every matrix has rows of 48 or 80 values (ggml's rows are the input features).
    for (const spec of parameterSpecs(odd.config)) expect((await tensorBytes(path, ggufTensorName(spec.name))).type, spec.name).toBe(spec.kind === "norm" ? 0 : 1);
    const back = await readGgufQuantized(path);
    expect(back.quantized.size).toBe(0);
    const down = "model.layers.0.mlp.down_proj.weight";
    expect(Array.from(back.params.get(down)!.data)).toEqual(Array.from(odd.params.get(down)!.data, (x) => float16ToFloat32(float32ToFloat16(x))));
  });

  it("reads Q4_0 back dequantised: exactly dequantizeMatrix(quantizeMatrix(w, 4))", async () => {
    const { config: read, params: back } = await readGguf(await exported("q4_0"));
    expect(read).toEqual(config);
    for (const spec of specs) {
      const original = params.get(spec.name)!;
      const got = back.get(spec.name)!;
      expect(got.shape, spec.name).toEqual(spec.shape);
      const expected = spec.kind === "norm" ? original.data.map(norm) : dequantizeMatrix(quantizeMatrix(original, 4)).data;
      expect(Buffer.from(got.data.buffer).equals(Buffer.from(expected.buffer)), spec.name).toBe(true);
    }
  });
});

// ---- the import that keeps the blocks -----------------------------------------------------------

describe("GGUF import keeping Q8_0 / Q4_0 quantized", () => {
  for (const [dtype, bits] of [["q8_0", 8], ["q4_0", 4]] as const) {
    it(`${dtype}: every matrix is quantizeMatrix(w, ${bits}) block for block, norms float32`, async () => {
      const { config: read, params: rest, quantized } = await readGgufQuantized(await exported(dtype));
      expect(read).toEqual(config);
      expect([...quantized.keys()]).toEqual(matrices.map((s) => s.name));
      expect(matrices.every((s) => isQuantizable(s.name))).toBe(true);
      for (const spec of matrices) expectSameMatrix(quantized.get(spec.name), quantizeMatrix(params.get(spec.name)!, bits), spec.name);
      expect([...rest.keys()]).toEqual(specs.filter((s) => s.kind === "norm").map((s) => s.name));
      for (const [name, tensor] of rest) expect(Array.from(tensor.data), name).toEqual(Array.from(params.get(name)!.data, norm));
    });
  }

  it("f32 and f16 files give float32 params only", async () => {
    for (const dtype of ["f32", "f16"] as const) {
      const { params: back, quantized } = await readGgufQuantized(await exported(dtype));
      expect(quantized.size).toBe(0);
      expect(back.size).toBe(specs.length);
    }
  });

  it("a file with Q8_0 matrices and an F16 embedding: the matrices stay blocks, the embedding float32", async () => {
    const embedding = "model.embed_tokens.weight";
    const path = await mixedGguf((name) => (name === embedding ? "f16" : name.endsWith("norm.weight") ? "f32" : "q8_0"));
    const { params: rest, quantized } = await readGgufQuantized(path);
    expect(quantized.has(embedding)).toBe(false);
    expect(quantized.size).toBe(matrices.length - 1);
    for (const [name, matrix] of quantized) expectSameMatrix(matrix, quantizeMatrix(params.get(name)!, 8), name);
    const f16 = (await readGguf(await exported("f16"))).params.get(embedding)!;
    expect(Array.from(rest.get(embedding)!.data)).toEqual(Array.from(f16.data));
    // Gemma2Model quantizes the float32 embedding itself, at the width of the given matrices.
    const ids = [sampleIds(10, config.vocabSize)];
    const backend = new OnnxBackend({ intraOpThreads: 1 });
    const fromFile = await new Gemma2Model(config, rest, backend, { quantized }).forward(ids);
    const floats: Gemma2Params = new Map(params);
    floats.set(embedding, f16);
    const itself = await new Gemma2Model(config, floats, backend, { quantize: "q8" }).forward(ids);
    expect(Buffer.from(fromFile.data.buffer).equals(Buffer.from(itself.data.buffer))).toBe(true);
  });

  it("a file with Q8_0 and Q4_0 matrices: all 8-bit, the Q4_0 codes widened without rounding", async () => {
    const q4 = (name: string) => /\.(q|k|v|o)_proj\./.test(name) || name === "model.embed_tokens.weight";
    const path = await mixedGguf((name) => (name.endsWith("norm.weight") ? "f32" : q4(name) ? "q4_0" : "q8_0"));
    const { params: rest, quantized } = await readGgufQuantized(path);
    expect(quantized.size).toBe(matrices.length);
    const dequantized: Gemma2Params = new Map(rest);
    for (const [name, matrix] of quantized) {
      expect(matrix.bits, name).toBe(8);
      const source = quantizeMatrix(params.get(name)!, q4(name) ? 4 : 8);
      if (!q4(name)) expectSameMatrix(matrix, source, name);
      else expect(Array.from(matrix.scales.data), name).toEqual(Array.from(source.scales.data)); // the Q4_0 scales, not re-derived
      const values = dequantizeMatrix(matrix);
      expect(Buffer.from(values.data.buffer).equals(Buffer.from(dequantizeMatrix(source).data.buffer)), name).toBe(true);
      dequantized.set(name, values);
    }
    // It runs, and on the exact reference backend (weights dequantized, float64 sums) computes
    // exactly the float model of those dequantized values.
    const ids = [sampleIds(8, config.vocabSize)];
    const backend = new ReferenceBackend();
    const fromFile = await new Gemma2Model(config, rest, backend, { quantized }).forward(ids);
    const floats = await new Gemma2Model(config, dequantized, backend).forward(ids);
    expect(Buffer.from(fromFile.data.buffer).equals(Buffer.from(floats.data.buffer))).toBe(true);
  });

  for (const [dtype, quantize] of [["q8_0", "q8"], ["q4_0", "q4"]] as const) {
    it(`a Gemma2Model on the ${dtype} import gives exactly the logits of one quantizing the float32 weights (${quantize})`, async () => {
      const { params: rest, quantized } = await readGgufQuantized(await exported(dtype));
      const ids = [sampleIds(12, config.vocabSize, 5), sampleIds(12, config.vocabSize, 6)];
      const backend = new OnnxBackend({ intraOpThreads: 1 });
      const fromFile = await new Gemma2Model(config, rest, backend, { quantized }).forward(ids);
      // The float32 params of the norms, as the file holds them; the matrices untouched.
      const floats: Gemma2Params = new Map(params);
      for (const [name, tensor] of rest) floats.set(name, tensor);
      const itself = await new Gemma2Model(config, floats, backend, { quantize }).forward(ids);
      expect(fromFile.shape).toEqual(itself.shape);
      expect(Buffer.from(fromFile.data.buffer).equals(Buffer.from(itself.data.buffer))).toBe(true);
    });
  }
});

// ---- llama.cpp ----------------------------------------------------------------------------------

describe("llama.cpp (node-llama-cpp) on the Q4_0 export", () => {
  // Both quantize the activations to int8 per block of 32 (llama.cpp as Q8_0, onnxruntime's
  // MatMulNBits at accuracy_level 4), each its own way: measured 0.010 to 0.018 over three random
  // models and two id sequences, against a distance from uniform of 0.6 to 0.77.
  const TOLERANCE = 0.05;

  it("runs it as gemma-ts's q4 model does, within the activation quantization error", async () => {
    const ids = sampleIds(24, config.vocabSize);
    const llama = await llamaCppLogProbs(await exported("q4_0"), ids, { threads: 2 });
    const backend = new OnnxBackend({ intraOpThreads: 1 });
    const ours = async (quantize?: "q4" | "q8") => logSoftmaxRows((await new Gemma2Model(config, params, backend, quantize ? { quantize } : {}).forward([ids])).data, config.vocabSize);
    const q4 = await ours("q4");
    const agreement = maxLogProbDifference(q4, llama);
    expect(agreement.max, `worst at position ${agreement.position}, token ${agreement.token}`).toBeLessThan(TOLERANCE);
    // The tolerance tells the 4-bit weights apart: the float32 and q8 models are 0.31 away.
    expect(maxLogProbDifference(await ours(), llama).max, "f32").toBeGreaterThan(4 * TOLERANCE);
    expect(maxLogProbDifference(await ours("q8"), llama).max, "q8").toBeGreaterThan(4 * TOLERANCE);
  });

  it("tells a file with the nibbles in MatMulNBits order (the re-pairing forgotten) from the right one", async () => {
    const ids = sampleIds(24, config.vocabSize);
    const bytes = Buffer.from(await readFile(await exported("q4_0")));
    const header = decodeGgufHeader(bytes, bytes.length, "q4_0 export");
    for (const info of header.tensors) {
      if (info.type !== 2) continue;
      const blocks = info.dims.reduce((a, b) => a * b, 1) / 32;
      for (let b = 0; b < blocks; b++) {
        const at = header.dataOffset + info.offset + b * 18 + 2;
        const codes = Array.from({ length: 32 }, (_, j) => (j < 16 ? bytes[at + j]! & 15 : bytes[at + j - 16]! >> 4));
        for (let k = 0; k < 16; k++) bytes[at + k] = codes[2 * k]! | (codes[2 * k + 1]! << 4);
      }
    }
    const unpaired = freshPath();
    await writeFile(unpaired, bytes);
    const q4 = logSoftmaxRows((await new Gemma2Model(config, params, new OnnxBackend({ intraOpThreads: 1 }), { quantize: "q4" }).forward([ids])).data, config.vocabSize);
    // Measured 0.95.
    expect(maxLogProbDifference(q4, await llamaCppLogProbs(unpaired, ids, { threads: 2 })).max).toBeGreaterThan(4 * TOLERANCE);
  });
});
