// Hugging Face checkpoint IO: safetensors read/write (against hand-built bytes following the spec,
// and against an independent stdlib-Python reader/writer when python3 is there), save -> load
// round trips in float32, bfloat16, float16 and shards, and every malformed case's typed error.
import { execFileSync } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ConfigMismatchError,
  configToHf,
  HostTensor,
  initParams,
  InvalidConfigError,
  MalformedCheckpointError,
  parameterSpecs,
  presetConfig,
  UnsupportedDTypeError,
  type Gemma2Params,
} from "../src/index.js";
import {
  atomicWrite,
  atomicWriteFile,
  INDEX_FILE,
  loadHfCheckpoint,
  readSafetensors,
  SafetensorsReader,
  saveHfCheckpoint,
  writeSafetensors,
} from "../src/node.js";

const config = presetConfig("gemma2-tiny");
const params = initParams(config, 1234);
let root: string;
let count = 0;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "gemma-ts-checkpoint-"));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

function freshDir(): string {
  return join(root, `case-${count++}`);
}

function bytesOf(tensor: HostTensor): Uint8Array {
  return new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
}

function expectBitwiseEqual(actual: Gemma2Params, expected: ReadonlyMap<string, HostTensor>): void {
  expect([...actual.keys()]).toEqual([...expected.keys()]);
  for (const [name, tensor] of expected) {
    const got = actual.get(name)!;
    expect(got.dtype, name).toBe("float32");
    expect(got.shape, name).toEqual(tensor.shape);
    expect(Buffer.from(bytesOf(got)).equals(Buffer.from(bytesOf(tensor))), name).toBe(true);
  }
}

/** What a half-precision save should give back: each weight rounded once, exactly. */
function rounded(dtype: "bfloat16" | "float16"): Map<string, HostTensor> {
  return new Map([...params].map(([name, tensor]) => [name, tensor.toHalf(dtype).toFloat32()]));
}

/** A tiny reference writer from the spec: 8-byte LE length, the header as given (JSON text, raw bytes or an object), then the data. */
function stBytes(header: unknown, data: ArrayLike<number> = [], headerLength?: number): Uint8Array {
  const json = header instanceof Uint8Array ? header : new TextEncoder().encode(typeof header === "string" ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength ?? json.length), true);
  out.set(json, 8);
  out.set(Array.from(data), 8 + json.length);
  return out;
}

async function stFile(header: unknown, data: ArrayLike<number> = [], headerLength?: number): Promise<string> {
  const file = join(root, `hand-${count++}.safetensors`);
  await writeFile(file, stBytes(header, data, headerLength));
  return file;
}

const f32 = (...values: number[]): number[] => Array.from(new Uint8Array(Float32Array.from(values).buffer));

describe("save -> load", () => {
  it("gives back bitwise identical float32 weights, the config and HF's side files", async () => {
    const dir = freshDir();
    await saveHfCheckpoint(dir, config, params);
    expect((await readdir(dir)).sort()).toEqual(["config.json", "generation_config.json", "model.safetensors"]);
    const loaded = await loadHfCheckpoint(dir);
    expect(loaded.config).toEqual(config);
    expectBitwiseEqual(loaded.params, params);
    const hfConfig = JSON.parse(await readFile(join(dir, "config.json"), "utf8"));
    expect(hfConfig).toMatchObject({ model_type: "gemma2", torch_dtype: "float32", architectures: ["Gemma2ForCausalLM"] });
    const generation = JSON.parse(await readFile(join(dir, "generation_config.json"), "utf8"));
    expect(generation).toMatchObject({ bos_token_id: 2, eos_token_id: 1, pad_token_id: 0 });
  });

  it.each(["bfloat16", "float16"] as const)("rounds once to %s and reads back exactly that", async (dtype) => {
    const dir = freshDir();
    await saveHfCheckpoint(dir, config, params, { dtype });
    const loaded = await loadHfCheckpoint(dir);
    expectBitwiseEqual(loaded.params, rounded(dtype));
    // Within half precision: unit roundoff 2^-8 (bf16, 8 significant bits) or 2^-11 (f16, 11 bits),
    // plus half of f16's smallest subnormal for the tiny weights that fall below its normal range.
    const [relative, absolute] = dtype === "bfloat16" ? [2 ** -8, 0] : [2 ** -11, 2 ** -25];
    let worst = 0;
    for (const [name, tensor] of params) {
      const got = loaded.params.get(name)!.data;
      tensor.data.forEach((value, i) => {
        worst = Math.max(worst, Math.abs(got[i]! - value) - (Math.abs(value) * relative + absolute));
      });
    }
    expect(worst).toBeLessThanOrEqual(0);
    const reader = await SafetensorsReader.open(join(dir, "model.safetensors"));
    expect(new Set(reader.tensors.map((t) => t.dtype))).toEqual(new Set([dtype === "bfloat16" ? "BF16" : "F16"]));
    // The chunked converter gives the same result whatever the chunk size, including odd ones.
    const raw = await reader.readRaw("model.embed_tokens.weight");
    await reader.close();
    expect(raw.dtype).toBe(dtype);
    const small = await readSafetensors(join(dir, "model.safetensors"), { chunkBytes: 10 });
    for (const [name, tensor] of rounded(dtype)) expect(small.get(name)!.data).toEqual(tensor.data);
    expect(JSON.parse(await readFile(join(dir, "config.json"), "utf8")).torch_dtype).toBe(dtype);
  });

  it("shards by maxShardBytes, writes the index, loads identically, and clears stale layouts", async () => {
    const dir = freshDir();
    await saveHfCheckpoint(dir, config, params, { maxShardBytes: 64 * 1024 });
    const files = (await readdir(dir)).filter((f) => f.endsWith(".safetensors")).sort();
    expect(files.length).toBeGreaterThan(3);
    files.forEach((f, k) => expect(f).toBe(`model-${String(k + 1).padStart(5, "0")}-of-${String(files.length).padStart(5, "0")}.safetensors`));
    const index = JSON.parse(await readFile(join(dir, INDEX_FILE), "utf8"));
    const totalSize = parameterSpecs(config).reduce((sum, spec) => sum + spec.shape.reduce((a, b) => a * b, 1) * 4, 0);
    expect(index.metadata.total_size).toBe(totalSize);
    expect(Object.keys(index.weight_map).sort()).toEqual(parameterSpecs(config).map((s) => s.name).sort());
    for (const file of files) {
      const reader = await SafetensorsReader.open(join(dir, file));
      const bytes = reader.tensors.reduce((sum, t) => sum + t.end - t.begin, 0);
      await reader.close();
      // Only a tensor larger than the limit (the embedding, 128 KiB) may exceed it, alone.
      expect(bytes <= 64 * 1024 || reader.tensors.length === 1).toBe(true);
    }
    expectBitwiseEqual((await loadHfCheckpoint(dir)).params, params);

    await saveHfCheckpoint(dir, config, params, { dtype: "bfloat16", maxShardBytes: 100 * 1024 });
    expect((await readdir(dir)).filter((f) => f.endsWith(".safetensors")).length).toBeLessThan(files.length);
    expectBitwiseEqual((await loadHfCheckpoint(dir)).params, rounded("bfloat16"));
    await saveHfCheckpoint(dir, config, params);
    expect((await readdir(dir)).sort()).toEqual(["config.json", "generation_config.json", "model.safetensors"]);
    expectBitwiseEqual((await loadHfCheckpoint(dir)).params, params);
  });

  it("ignores an lm_head.weight tied to the embedding, and refuses other extras", async () => {
    const dir = freshDir();
    await saveHfCheckpoint(dir, config, params);
    const embedding = params.get("model.embed_tokens.weight")!;
    await writeSafetensors(join(dir, "model.safetensors"), [...params, ["lm_head.weight", embedding]]);
    expectBitwiseEqual((await loadHfCheckpoint(dir)).params, params);
    await writeSafetensors(join(dir, "model.safetensors"), [...params, ["lm_head.weight", embedding.reshape([64, 512])]]);
    await expect(loadHfCheckpoint(dir)).rejects.toThrow(/lm_head\.weight.*\[512, 64\], got \[64, 512\]/);
    await writeSafetensors(join(dir, "model.safetensors"), [...params, ["model.layers.4.mlp.up_proj.weight", HostTensor.float32([1])]]);
    await expect(loadHfCheckpoint(dir)).rejects.toThrow(ConfigMismatchError);
    await expect(saveHfCheckpoint(dir, config, new Map([...params, ["extra", HostTensor.float32([1])]]))).rejects.toThrow(/'extra'/);
  });
});

describe("safetensors bytes against the spec", () => {
  it("writes exactly the bytes the format defines: padded header, metadata, sorted tensors", async () => {
    const file = join(root, "exact.safetensors");
    await writeSafetensors(file, [
      ["w", HostTensor.float32([2], [1, -2])],
      ["b", new HostTensor("bfloat16", [1], Uint16Array.of(0x3f80))],
      ["a", HostTensor.float32([1], [0.5])],
    ]);
    const json =
      '{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},' +
      '"w":{"dtype":"F32","shape":[2],"data_offsets":[4,12]},"b":{"dtype":"BF16","shape":[1],"data_offsets":[12,14]}}';
    const padded = json + " ".repeat((8 - (json.length % 8)) % 8);
    const expected = stBytes(padded, [...f32(0.5), ...f32(1, -2), 0x80, 0x3f]);
    expect(new Uint8Array(await readFile(file))).toEqual(expected);
  });

  it("reads hand-made files: unpadded header, mixed dtypes, 0-rank and empty tensors", async () => {
    const header = {
      h: { dtype: "F16", shape: [2], data_offsets: [0, 4] },
      e: { dtype: "F32", shape: [0, 3], data_offsets: [4, 4] },
      i: { dtype: "I64", shape: [], data_offsets: [4, 12] },
      b: { dtype: "BF16", shape: [1], data_offsets: [12, 14] },
    };
    const data = [0x00, 0x3c, 0x00, 0xc0, 0, 0, 0, 0, 1, 0, 0, 0, 0x40, 0xc0]; // 1, -2 | 2^32 | -3
    const tensors = await readSafetensors(await stFile(header, data));
    expect([...tensors.keys()]).toEqual(["h", "e", "i", "b"]);
    expect(Array.from(tensors.get("h")!.data as Float32Array)).toEqual([1, -2]);
    expect(tensors.get("e")!.shape).toEqual([0, 3]);
    expect(tensors.get("i")!.dtype).toBe("int64");
    expect(tensors.get("i")!.data[0]).toBe(2n ** 32n);
    expect(Array.from(tensors.get("b")!.data as Float32Array)).toEqual([-3]);
  });

});

// Python's standard library is on every machine of this kind (and sentencepiece's tests need it too):
// the check is required, never skipped.
const script = fileURLToPath(new URL("./support/safetensors_reference.py", import.meta.url));

describe("an independent stdlib-Python reader and writer", () => {
  it.each(["float32", "bfloat16", "float16"] as const)("an independent Python reader reads our %s files", async (dtype) => {
    const dir = freshDir();
    await saveHfCheckpoint(dir, config, params, { dtype, maxShardBytes: 200 * 1024 });
    const expected = dtype === "float32" ? params : rounded(dtype);
    const files = (await readdir(dir)).filter((f) => f.endsWith(".safetensors"));
    const seen: string[] = [];
    for (const file of files) {
      const [manifest, values] = [join(dir, `${file}.json`), join(dir, `${file}.f32`)];
      execFileSync("python3", [script, "read", join(dir, file), manifest, values]);
      const { metadata, tensors } = JSON.parse(await readFile(manifest, "utf8")) as { metadata: unknown; tensors: Record<string, { shape: number[] }> };
      expect(metadata).toEqual({ format: "pt" });
      const dump = await readFile(values);
      let offset = 0;
      for (const [name, { shape }] of Object.entries(tensors)) {
        const want = expected.get(name)!;
        expect(shape).toEqual(want.shape);
        expect(dump.subarray(offset, offset + want.data.byteLength).equals(Buffer.from(bytesOf(want))), name).toBe(true);
        offset += want.data.byteLength;
        seen.push(name);
      }
    }
    expect(seen.sort()).toEqual([...params.keys()].sort());
  });

  it("reads a file written by an independent Python writer", async () => {
    const file = join(root, "python.safetensors");
    execFileSync("python3", [script, "write", file]);
    const tensors = await readSafetensors(file);
    expect(Array.from(tensors.get("a.float")!.data as Float32Array)).toEqual([1.5, -0.25, Math.fround(3.0e38)]);
    expect(Array.from(tensors.get("b.half")!.data as Float32Array)).toEqual([1, -2, 0.5, 65504]);
    expect(Array.from(tensors.get("c.bf16")!.data as Float32Array)).toEqual([1, -3]);
    expect(Array.from(tensors.get("d.int32")!.data as Int32Array)).toEqual([-7, 2 ** 31 - 1]);
    expect(tensors.get("e.int64")!.shape).toEqual([]);
    expect(tensors.get("e.int64")!.data[0]).toBe(2n ** 40n);
    expect(tensors.get("f.empty")!.size).toBe(0);
  });
});

describe("malformed files fail with typed errors naming the problem", () => {
  const good = { a: { dtype: "F32", shape: [2], data_offsets: [0, 8] }, b: { dtype: "F32", shape: [1], data_offsets: [8, 12] } };
  const data = f32(1, 2, 3);

  const cases: [string, () => Promise<string>, RegExp][] = [
    ["header length larger than the file", () => stFile(good, data, 1_000_000), /header length 1000000 runs past the end/],
    ["header length over the 100 MB cap", async () => {
      const file = await stFile(good, data, 200_000_000);
      await truncate(file, 200_000_100);
      return file;
    }, /exceeds the format's 100000000-byte limit/],
    ["invalid JSON header", () => stFile('{"a": {"dtype": "F32",', data), /not valid JSON/],
    ["a header that is not an object", () => stFile("[1, 2]    ", []), /does not start with '\{'/],
    ["invalid UTF-8", () => stFile(Uint8Array.of(0x7b, 0x22, 0xff, 0x22, 0x3a, 0x7b, 0x7d, 0x7d), []), /not valid UTF-8/],
    ["data_offsets past the end", () => stFile({ ...good, b: { dtype: "F32", shape: [1], data_offsets: [8, 16] } }, data), /'b'.*run past the end of the 12-byte data buffer/],
    ["overlapping offsets", () => stFile({ a: { dtype: "F32", shape: [2], data_offsets: [0, 8] }, b: { dtype: "F32", shape: [2], data_offsets: [4, 12] } }, data), /'b'.*overlaps tensor 'a'/],
    ["a gap between tensors", () => stFile({ a: { dtype: "F32", shape: [1], data_offsets: [0, 4] }, b: { dtype: "F32", shape: [1], data_offsets: [8, 12] } }, data), /gap of 4 bytes before tensor 'b'/],
    ["trailing bytes no tensor covers", () => stFile({ a: good.a }, data), /cover 8 bytes but the data buffer holds 12/],
    ["shape x dtype size != byte span", () => stFile({ ...good, a: { dtype: "F32", shape: [3], data_offsets: [0, 8] } }, data), /'a'.*needs 12 bytes but data_offsets \[0, 8\] span 8/],
    ["a negative dimension", () => stFile({ ...good, a: { dtype: "F32", shape: [-2], data_offsets: [0, 8] } }, data), /'a': shape \[-2\]/],
    ["a duplicate name", () => stFile(`{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "a": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}}`, data), /'a' appears twice/],
    ["a non-string metadata value", () => stFile({ __metadata__: { format: 1 }, ...good }, data), /__metadata__\.format/],
  ];

  it.each(cases)("%s", async (_, make, message) => {
    const file = await make();
    const error = await SafetensorsReader.open(file).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MalformedCheckpointError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).toContain(file);
  });

  it("reports truncation at every kind of cut point", async () => {
    const dir = freshDir();
    await saveHfCheckpoint(dir, config, params, { dtype: "bfloat16" });
    const file = join(dir, "model.safetensors");
    const whole = await readFile(file);
    const headerEnd = 8 + Number(whole.readBigUInt64LE(0));
    for (const cut of [0, 3, 7, 8, 9, headerEnd - 1, headerEnd, headerEnd + 1, Math.floor(whole.length / 2), whole.length - 1]) {
      await writeFile(file, whole.subarray(0, cut));
      const error = await loadHfCheckpoint(dir).catch((e: unknown) => e);
      expect(error, `cut at ${cut}`).toBeInstanceOf(MalformedCheckpointError);
      expect((error as Error).message).toMatch(/too short|runs? past the end|truncated/);
    }
  });

  it("refuses an unknown dtype and an unsupported one, naming the tensor", async () => {
    const unknown = await stFile({ ...good, b: { dtype: "Q4_K", shape: [1], data_offsets: [8, 12] } }, data);
    await expect(SafetensorsReader.open(unknown)).rejects.toThrow(UnsupportedDTypeError);
    await expect(SafetensorsReader.open(unknown)).rejects.toThrow(/'Q4_K' for tensor 'b'/);
    const f64 = await stFile({ a: { dtype: "F64", shape: [1], data_offsets: [0, 8] }, b: good.b }, data);
    const reader = await SafetensorsReader.open(f64);
    await expect(reader.read("a")).rejects.toThrow(UnsupportedDTypeError);
    await expect(reader.read("a")).rejects.toThrow(/'F64' for tensor 'a'/);
    await reader.close();
    const dir = freshDir();
    await saveHfCheckpoint(dir, config, params);
    const weights = new Map<string, HostTensor>(params);
    weights.set("model.norm.weight", HostTensor.int32([64], new Array(64).fill(0)));
    await writeSafetensors(join(dir, "model.safetensors"), weights);
    await expect(loadHfCheckpoint(dir)).rejects.toThrow(/'I32' for tensor 'model\.norm\.weight'/);
  });
});

describe("checkpoint folders that disagree with their config", () => {
  async function savedWith(edit: (weights: Map<string, HostTensor>) => void): Promise<string> {
    const dir = freshDir();
    await saveHfCheckpoint(dir, config, params);
    const weights = new Map<string, HostTensor>(params);
    edit(weights);
    await writeSafetensors(join(dir, "model.safetensors"), weights);
    return dir;
  }

  it("names a missing tensor", async () => {
    const dir = await savedWith((w) => w.delete("model.layers.2.self_attn.k_proj.weight"));
    const error = await loadHfCheckpoint(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigMismatchError);
    expect((error as ConfigMismatchError).tensor).toBe("model.layers.2.self_attn.k_proj.weight");
    expect((error as Error).message).toMatch(/missing/);
  });

  it("names a wrong-shaped tensor with expected and actual shapes", async () => {
    const dir = await savedWith((w) => w.set("model.layers.1.mlp.down_proj.weight", HostTensor.float32([128, 64])));
    const error = await loadHfCheckpoint(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigMismatchError);
    expect((error as Error).message).toMatch(/'model\.layers\.1\.mlp\.down_proj\.weight'.*expected shape \[64, 128\], got \[128, 64\]/);
  });

  it("refuses to save parameters that do not match the config", async () => {
    const wrong = new Map(params);
    wrong.set("model.norm.weight", HostTensor.float32([63]));
    await expect(saveHfCheckpoint(freshDir(), config, wrong)).rejects.toThrow(ConfigMismatchError);
  });

  it("names a bad config.json field, and reports config.json that is not JSON", async () => {
    const dir = freshDir();
    await saveHfCheckpoint(dir, config, params);
    await writeFile(join(dir, "config.json"), JSON.stringify({ ...configToHf(config), num_attention_heads: 0 }));
    const error = await loadHfCheckpoint(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidConfigError);
    expect((error as InvalidConfigError).field).toBe("num_attention_heads");
    await writeFile(join(dir, "config.json"), "{ not json");
    await expect(loadHfCheckpoint(dir)).rejects.toThrow(MalformedCheckpointError);
    await rm(join(dir, "config.json"));
    await expect(loadHfCheckpoint(dir)).rejects.toThrow(/config\.json: missing/);
  });

  it("checks the shard index: missing weights, a missing shard, a path outside, a wrong mapping", async () => {
    const dir = freshDir();
    await saveHfCheckpoint(dir, config, params, { maxShardBytes: 200 * 1024 });
    const indexPath = join(dir, INDEX_FILE);
    const index = JSON.parse(await readFile(indexPath, "utf8"));
    const map = index.weight_map as Record<string, string>;
    const setIndex = (weightMap: Record<string, string>): Promise<void> => writeFile(indexPath, JSON.stringify({ ...index, weight_map: weightMap }));

    await setIndex({ ...map, "model.norm.weight": "../model.safetensors" });
    await expect(loadHfCheckpoint(dir)).rejects.toThrow(/not a file in the folder/);
    await setIndex({ ...map, "model.norm.weight": "model-00009-of-00009.safetensors" });
    await expect(loadHfCheckpoint(dir)).rejects.toThrow(/model-00009-of-00009\.safetensors: missing/);
    const [first, second] = [...new Set(Object.values(map))].sort();
    const moved = Object.keys(map).find((name) => map[name] === first)!;
    await setIndex({ ...map, [moved]: second! });
    await expect(loadHfCheckpoint(dir)).rejects.toThrow(MalformedCheckpointError);
    await rm(indexPath);
    await expect(loadHfCheckpoint(dir)).rejects.toThrow(/neither model\.safetensors nor/);
  });
});

describe("atomic writes", () => {
  it("leaves the old file and no temp file when a write fails", async () => {
    const dir = freshDir();
    await saveHfCheckpoint(dir, config, params);
    const before = await readFile(join(dir, "model.safetensors"));
    const broken = new Map<string, HostTensor>(params);
    broken.set("bad", new HostTensor("bool", [1], Uint8Array.of(1)));
    await expect(writeSafetensors(join(dir, "model.safetensors"), broken)).rejects.toThrow(UnsupportedDTypeError);
    const failing = atomicWrite(join(dir, "model.safetensors"), async (handle) => {
      await handle.write("half a checkpoint");
      throw new Error("disk full");
    });
    await expect(failing).rejects.toThrow("disk full");
    expect((await readFile(join(dir, "model.safetensors"))).equals(before)).toBe(true);
    expect((await readdir(dir)).sort()).toEqual(["config.json", "generation_config.json", "model.safetensors"]);
    await atomicWriteFile(join(dir, "note.txt"), "done");
    expect(await readFile(join(dir, "note.txt"), "utf8")).toBe("done");
  });
});
