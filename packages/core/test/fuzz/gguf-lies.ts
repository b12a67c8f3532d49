// A GGUF encoder that can lie, for the fuzz tests: every count, length, type tag, dimension and
// offset can be set independently of what follows it, and metadata arrays can nest. A valid file
// (written by writeGguf) is taken apart into this form, checked to re-encode byte for byte, and
// then altered one lie at a time by the arbitraries below.
import fc from "fast-check";
import { decodeGgufHeader, type GgufEntry } from "../../src/node.js";
import type { Gemma2Config } from "../../src/index.js";
import { architectureEntries } from "../../src/io/gguf-gemma2.js";
import { synthesizeVocabulary, vocabularyEntries } from "../../src/io/gguf-vocabulary.js";

const TAGS = { uint8: 0, int8: 1, uint16: 2, int16: 3, uint32: 4, int32: 5, float32: 6, bool: 7, string: 8, array: 9, uint64: 10, int64: 11, float64: 12 } as const;

type NumberType = "uint8" | "int8" | "uint16" | "int16" | "uint32" | "int32" | "float32" | "float64" | "bool";

export type RawValue =
  | { type: NumberType; value: number }
  | { type: "uint64" | "int64"; value: bigint }
  | { type: "string"; value: string; lengthLie?: bigint }
  | { type: "array"; itemType: number; items: RawValue[]; countLie?: bigint }
  /** `depth` one-item arrays around a uint8 (encoded without recursion, so any depth can be written). */
  | { type: "nested"; depth: number }
  /** A type tag no reader knows, with no payload. */
  | { type: "tag"; tag: number };

export interface RawEntry {
  key: string;
  keyLengthLie?: bigint;
  value: RawValue;
}

export interface RawTensor {
  name: string;
  dims: bigint[];
  type: number;
  offset: bigint;
}

export interface RawGguf {
  version: number;
  tensorCountLie?: bigint;
  entryCountLie?: bigint;
  entries: RawEntry[];
  tensors: RawTensor[];
  data: Uint8Array;
}

const utf8 = new TextEncoder();

class Out {
  private bytes = new Uint8Array(1 << 12);
  length = 0;

  private at(n: number): DataView {
    if (this.length + n > this.bytes.length) {
      const grown = new Uint8Array(Math.max(this.bytes.length * 2, this.length + n));
      grown.set(this.bytes.subarray(0, this.length));
      this.bytes = grown;
    }
    const view = new DataView(this.bytes.buffer, this.length, n);
    this.length += n;
    return view;
  }

  u32(value: number): void {
    this.at(4).setUint32(0, value >>> 0, true);
  }

  u64(value: bigint): void {
    this.at(8).setBigUint64(0, BigInt.asUintN(64, value), true);
  }

  raw(bytes: Uint8Array): void {
    const view = this.at(bytes.length);
    new Uint8Array(view.buffer, view.byteOffset, bytes.length).set(bytes);
  }

  string(value: string, lengthLie?: bigint): void {
    const bytes = utf8.encode(value);
    this.u64(lengthLie ?? BigInt(bytes.length));
    this.raw(bytes);
  }

  payload(value: RawValue): void {
    switch (value.type) {
      case "uint8": return this.at(1).setUint8(0, value.value);
      case "int8": return this.at(1).setInt8(0, value.value);
      case "bool": return this.at(1).setUint8(0, value.value);
      case "uint16": return this.at(2).setUint16(0, value.value, true);
      case "int16": return this.at(2).setInt16(0, value.value, true);
      case "uint32": return this.at(4).setUint32(0, value.value, true);
      case "int32": return this.at(4).setInt32(0, value.value, true);
      case "float32": return this.at(4).setFloat32(0, value.value, true);
      case "float64": return this.at(8).setFloat64(0, value.value, true);
      case "uint64": return this.at(8).setBigUint64(0, BigInt.asUintN(64, value.value), true);
      case "int64": return this.at(8).setBigInt64(0, BigInt.asIntN(64, value.value), true);
      case "string": return this.string(value.value, value.lengthLie);
      case "tag": return;
      case "nested": {
        for (let level = 1; level <= value.depth; level++) {
          this.u32(level < value.depth ? TAGS.array : TAGS.uint8);
          this.u64(1n);
        }
        return this.at(1).setUint8(0, 7);
      }
      case "array": {
        this.u32(value.itemType);
        this.u64(value.countLie ?? BigInt(value.items.length));
        for (const item of value.items) this.payload(item);
        return;
      }
    }
  }

  padTo(alignment: number): void {
    this.at((alignment - (this.length % alignment)) % alignment);
  }

  result(): Uint8Array {
    return this.bytes.slice(0, this.length);
  }
}

function tagOf(value: RawValue): number {
  if (value.type === "nested") return TAGS.array;
  return value.type === "tag" ? value.tag : TAGS[value.type];
}

export function encodeRawGguf(file: RawGguf): Uint8Array {
  const out = new Out();
  out.u32(0x46554747);
  out.u32(file.version);
  out.u64(file.tensorCountLie ?? BigInt(file.tensors.length));
  out.u64(file.entryCountLie ?? BigInt(file.entries.length));
  for (const entry of file.entries) {
    out.string(entry.key, entry.keyLengthLie);
    out.u32(tagOf(entry.value));
    out.payload(entry.value);
  }
  for (const tensor of file.tensors) {
    out.string(tensor.name);
    out.u32(tensor.dims.length);
    for (const dim of tensor.dims) out.u64(dim);
    out.u32(tensor.type);
    out.u64(tensor.offset);
  }
  out.padTo(32);
  out.raw(file.data);
  return out.result();
}

function rawFromEntry(entry: GgufEntry): RawValue {
  if (entry.type !== "array") return { type: entry.type, value: entry.value } as RawValue;
  const items = Array.from(entry.value as ArrayLike<number | string>, (item): RawValue =>
    entry.itemType === "string" ? { type: "string", value: item as string } : ({ type: entry.itemType, value: item as number } as RawValue),
  );
  return { type: "array", itemType: TAGS[entry.itemType], items };
}

/**
 * The metadata writeGguf writes for `config` with the synthesised vocabulary, in its order; the
 * caller checks the re-encoding against the real file, so a change to the writer shows up here.
 */
function writerEntries(config: Gemma2Config, fileType: number): GgufEntry[] {
  return [
    { key: "general.architecture", type: "string", value: "gemma2" },
    { key: "general.file_type", type: "uint32", value: fileType },
    { key: "general.quantization_version", type: "uint32", value: 2 },
    ...architectureEntries(config),
    ...vocabularyEntries(config, synthesizeVocabulary(config)),
  ];
}

/** A writeGguf file taken apart; throws if it does not re-encode to the same bytes. */
export function rawGgufOf(valid: Uint8Array, config: Gemma2Config, fileType: number): RawGguf {
  const header = decodeGgufHeader(valid, valid.length, "valid.gguf");
  const file: RawGguf = {
    version: 3,
    entries: writerEntries(config, fileType).map((entry) => ({ key: entry.key, value: rawFromEntry(entry) })),
    tensors: header.tensors.map((t) => ({ name: t.name, dims: t.dims.map(BigInt), type: t.type, offset: BigInt(t.offset) })),
    data: valid.slice(header.dataOffset),
  };
  const again = encodeRawGguf(file);
  if (again.length !== valid.length || again.some((byte, i) => byte !== valid[i])) throw new Error("the GGUF lie encoder no longer reproduces writeGguf's bytes");
  return file;
}

// ---- lies --------------------------------------------------------------------------------------

const boundary64 = fc.constantFrom(0n, 1n, 2n ** 31n - 1n, 2n ** 32n, 2n ** 40n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 63n, 2n ** 64n - 1n);
const boundary32 = fc.constantFrom(0, 1, 2, 3, 1000, 2 ** 24 + 1, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1);

/** A metadata value of any type, including absurd sizes, wrong kinds and unknown tags. */
const anyValue: fc.Arbitrary<RawValue> = fc.oneof(
  boundary32.map((value): RawValue => ({ type: "uint32", value })),
  fc.constantFrom(-1, -(2 ** 31)).map((value): RawValue => ({ type: "int32", value })),
  boundary64.map((value): RawValue => ({ type: "uint64", value })),
  fc.constantFrom(-1n, -(2n ** 63n)).map((value): RawValue => ({ type: "int64", value })),
  fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, -1, 0, 0.5, 1e9, 3.4e38).map((value): RawValue => ({ type: "float32", value })),
  fc.constantFrom(Number.NaN, 1e300, 2 ** 53, 1e9).map((value): RawValue => ({ type: "float64", value })),
  fc.constantFrom(0, 1).map((value): RawValue => ({ type: "bool", value })),
  fc.string({ maxLength: 12 }).map((value): RawValue => ({ type: "string", value })),
  fc.array(boundary32, { maxLength: 4 }).map((items): RawValue => ({ type: "array", itemType: TAGS.uint32, items: items.map((value) => ({ type: "uint32", value })) })),
  fc.integer({ min: 1, max: 12 }).map((depth): RawValue => ({ type: "nested", depth })),
  fc.constantFrom(13, 255, 2 ** 31, 2 ** 32 - 1).map((tag): RawValue => ({ type: "tag", tag })),
);

const sizeKeys = [
  "gemma2.block_count",
  "gemma2.embedding_length",
  "gemma2.feed_forward_length",
  "gemma2.attention.head_count",
  "gemma2.attention.head_count_kv",
  "gemma2.attention.key_length",
  "gemma2.attention.value_length",
  "gemma2.context_length",
  "gemma2.attention.sliding_window",
  "gemma2.attention.layer_norm_rms_epsilon",
  "gemma2.rope.freq_base",
  "tokenizer.ggml.bos_token_id",
  "tokenizer.ggml.eos_token_id",
  "tokenizer.ggml.padding_token_id",
  "tokenizer.ggml.tokens",
  "tokenizer.ggml.scores",
  "general.alignment",
  "general.architecture",
];

export type GgufLie =
  | { kind: "value"; key: string; value: RawValue }
  | { kind: "nested"; depth: number }
  | { kind: "headerCount"; which: "tensorCountLie" | "entryCountLie"; value: bigint }
  | { kind: "stringLength"; entry: number; onKey: boolean; value: bigint }
  | { kind: "arrayCount"; key: string; value: bigint }
  | { kind: "dims"; tensor: number; dims: bigint[] }
  | { kind: "tensorType"; tensor: number; type: number }
  | { kind: "offset"; tensor: number; value: bigint }
  | { kind: "truncateData"; keep: number }
  | { kind: "version"; value: number };

export function ggufLie(file: RawGguf): fc.Arbitrary<GgufLie> {
  const tensor = fc.nat({ max: file.tensors.length - 1 });
  const arrayKeys = file.entries.filter((e) => e.value.type === "array").map((e) => e.key);
  return fc.oneof(
    fc.record({ kind: fc.constant("value" as const), key: fc.constantFrom(...sizeKeys), value: anyValue }),
    fc.record({ kind: fc.constant("nested" as const), depth: fc.oneof(fc.integer({ min: 2, max: 12 }), fc.constantFrom(100, 10_000, 100_000)) }),
    fc.record({ kind: fc.constant("headerCount" as const), which: fc.constantFrom("tensorCountLie" as const, "entryCountLie" as const), value: fc.oneof(boundary64, fc.bigInt({ min: 0n, max: 2000n })) }),
    fc.record({ kind: fc.constant("stringLength" as const), entry: fc.nat({ max: file.entries.length - 1 }), onKey: fc.boolean(), value: fc.oneof(boundary64, fc.bigInt({ min: 0n, max: 64n })) }),
    fc.record({ kind: fc.constant("arrayCount" as const), key: fc.constantFrom(...arrayKeys), value: fc.oneof(boundary64, fc.bigInt({ min: 0n, max: 128n })) }),
    fc.record({ kind: fc.constant("dims" as const), tensor, dims: fc.array(fc.oneof(boundary64, fc.constantFrom(16n, 32n, 64n)), { maxLength: 6 }) }),
    fc.record({ kind: fc.constant("tensorType" as const), tensor, type: fc.oneof(fc.integer({ min: 0, max: 40 }), boundary32) }),
    fc.record({ kind: fc.constant("offset" as const), tensor, value: fc.oneof(boundary64, fc.bigInt({ min: 0n, max: 1n << 16n }).map((n) => n * 32n), fc.constant(4n)) }),
    fc.record({ kind: fc.constant("truncateData" as const), keep: fc.nat({ max: file.data.length }) }),
    fc.record({ kind: fc.constant("version" as const), value: boundary32 }),
  );
}

/** `file` with the lies told (a copy; `file` is left as it was). */
export function tellLies(file: RawGguf, lies: readonly GgufLie[]): RawGguf {
  const out: RawGguf = { ...file, entries: file.entries.map((e) => ({ ...e })), tensors: file.tensors.map((t) => ({ ...t })) };
  for (const lie of lies) {
    switch (lie.kind) {
      case "value": {
        const entry = out.entries.find((e) => e.key === lie.key);
        if (entry) entry.value = lie.value;
        else out.entries.push({ key: lie.key, value: lie.value });
        break;
      }
      case "nested":
        out.entries.push({ key: `fuzz.nested.${out.entries.length}`, value: { type: "nested", depth: lie.depth } });
        break;
      case "headerCount":
        out[lie.which] = lie.value;
        break;
      case "stringLength": {
        const entry = out.entries[lie.entry]!;
        if (lie.onKey) entry.keyLengthLie = lie.value;
        else if (entry.value.type === "string") entry.value = { ...entry.value, lengthLie: lie.value };
        break;
      }
      case "arrayCount": {
        const entry = out.entries.find((e) => e.key === lie.key);
        if (entry?.value.type === "array") entry.value = { ...entry.value, countLie: lie.value };
        break;
      }
      case "dims":
        out.tensors[lie.tensor]!.dims = lie.dims;
        break;
      case "tensorType":
        out.tensors[lie.tensor]!.type = lie.type;
        break;
      case "offset":
        out.tensors[lie.tensor]!.offset = lie.value;
        break;
      case "truncateData":
        out.data = out.data.subarray(0, lie.keep);
        break;
      case "version":
        out.version = lie.value;
        break;
    }
  }
  return out;
}
