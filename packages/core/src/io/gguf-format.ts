// The GGUF v3 container: header, typed metadata, tensor infos and data alignment, encoded and
// decoded byte by byte (little-endian). Follows llama.cpp's ggml/include/gguf.h and gguf-py's
// constants.py / gguf_writer.py as summarised in docs/gemma2.md section 4.1. Browser-safe: it
// works on byte arrays; src/io/gguf.ts does the file IO.
import { MalformedCheckpointError, UnsupportedDTypeError } from "../errors.js";
import { checkLimit } from "./limits.js";

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian uint32
export const GGUF_VERSION = 3;
export const GGUF_DEFAULT_ALIGNMENT = 32;
/** ggml's GGML_MAX_DIMS: gguf.c rejects tensors with more dimensions. */
const MAX_DIMS = 4;

/** gguf_type, the tag in front of every metadata value. */
export const GGUF_VALUE_TYPES = {
  uint8: 0,
  int8: 1,
  uint16: 2,
  int16: 3,
  uint32: 4,
  int32: 5,
  float32: 6,
  bool: 7,
  string: 8,
  array: 9,
  uint64: 10,
  int64: 11,
  float64: 12,
} as const;

export type GgufValueTypeName = keyof typeof GGUF_VALUE_TYPES;
type NumberTypeName = "uint8" | "int8" | "uint16" | "int16" | "uint32" | "int32" | "float32" | "float64";
type BigIntTypeName = "uint64" | "int64";

/** A decoded metadata value. 64-bit integers stay bigint so no id or count is silently rounded. */
export type GgufValue = number | bigint | boolean | string | GgufValue[];

/** One metadata entry to write, with its GGUF type spelled out (llama.cpp checks the types). */
export type GgufEntry =
  | { key: string; type: NumberTypeName; value: number }
  | { key: string; type: BigIntTypeName; value: bigint }
  | { key: string; type: "bool"; value: boolean }
  | { key: string; type: "string"; value: string }
  | { key: string; type: "array"; itemType: NumberTypeName; value: ArrayLike<number> }
  | { key: string; type: "array"; itemType: "string"; value: readonly string[] };

/** ggml_type ids. Only F32, F16, Q4_0 and Q8_0 are read or written; the rest name what a file holds. */
export const GGML_TYPE_NAMES: Readonly<Record<number, string>> = {
  0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 6: "Q5_0", 7: "Q5_1", 8: "Q8_0", 9: "Q8_1",
  10: "Q2_K", 11: "Q3_K", 12: "Q4_K", 13: "Q5_K", 14: "Q6_K", 15: "Q8_K",
  16: "IQ2_XXS", 17: "IQ2_XS", 18: "IQ3_XXS", 19: "IQ1_S", 20: "IQ4_NL", 21: "IQ3_S", 22: "IQ2_S", 23: "IQ4_XS",
  24: "I8", 25: "I16", 26: "I32", 27: "I64", 28: "F64", 29: "IQ1_M", 30: "BF16", 34: "TQ1_0", 35: "TQ2_0", 39: "MXFP4",
};

export const GGML_F32 = 0;
export const GGML_F16 = 1;
export const GGML_Q4_0 = 2;
export const GGML_Q8_0 = 8;
export type SupportedGgmlType = typeof GGML_F32 | typeof GGML_F16 | typeof GGML_Q4_0 | typeof GGML_Q8_0;

/** Elements per block and bytes per block of the types this package reads and writes. */
const BLOCK_LAYOUT: Readonly<Record<SupportedGgmlType, { elements: number; bytes: number }>> = {
  [GGML_F32]: { elements: 1, bytes: 4 },
  [GGML_F16]: { elements: 1, bytes: 2 },
  [GGML_Q4_0]: { elements: 32, bytes: 18 }, // fp16 scale + 16 bytes of nibbles
  [GGML_Q8_0]: { elements: 32, bytes: 34 }, // fp16 scale + 32 int8
};

export function ggmlTypeName(type: number): string {
  return GGML_TYPE_NAMES[type] ?? `unknown ggml type ${type}`;
}

export function isSupportedGgmlType(type: number): type is SupportedGgmlType {
  return type === GGML_F32 || type === GGML_F16 || type === GGML_Q4_0 || type === GGML_Q8_0;
}

export function ggmlBlockSize(type: SupportedGgmlType): number {
  return BLOCK_LAYOUT[type].elements;
}

/** Bytes of `elements` values of `type`; `elements` must be a whole number of blocks. */
export function ggmlByteSize(type: SupportedGgmlType, elements: number, where: string): number {
  const layout = BLOCK_LAYOUT[type];
  if (elements % layout.elements !== 0) {
    throw new UnsupportedDTypeError(ggmlTypeName(type), `${where}: ${elements} elements are not whole blocks of ${layout.elements}`);
  }
  return (elements / layout.elements) * layout.bytes;
}

export function alignUp(offset: number, alignment: number): number {
  return Math.ceil(offset / alignment) * alignment;
}

/** A tensor's entry in the header. `dims` are innermost (fastest-varying) first, as ggml's ne. */
export interface GgufTensorInfo {
  name: string;
  dims: number[];
  type: number;
  /** Offset of the data from the start of the data section. */
  offset: number;
}

export interface GgufHeader {
  version: number;
  metadata: Map<string, GgufValue>;
  tensors: GgufTensorInfo[];
  alignment: number;
  /** Absolute file offset of the data section. */
  dataOffset: number;
}

// ---- writing ----------------------------------------------------------------------------------

const utf8Encoder = new TextEncoder();

/** A growable little-endian byte buffer for the header. */
class ByteWriter {
  private bytes = new Uint8Array(1 << 16);
  private view = new DataView(this.bytes.buffer);
  length = 0;

  private reserve(n: number): number {
    if (this.length + n > this.bytes.length) {
      let capacity = this.bytes.length * 2;
      while (capacity < this.length + n) capacity *= 2;
      const grown = new Uint8Array(capacity);
      grown.set(this.bytes.subarray(0, this.length));
      this.bytes = grown;
      this.view = new DataView(grown.buffer);
    }
    const at = this.length;
    this.length += n;
    return at;
  }

  u32(value: number): void {
    const at = this.reserve(4); // may replace this.view
    this.view.setUint32(at, value, true);
  }

  u64(value: number | bigint): void {
    const at = this.reserve(8); // may replace this.view
    this.view.setBigUint64(at, BigInt(value), true);
  }

  number(type: NumberTypeName, value: number): void {
    switch (type) {
      case "uint8": {
        const at = this.reserve(1);
        return this.view.setUint8(at, value);
      }
      case "int8": {
        const at = this.reserve(1);
        return this.view.setInt8(at, value);
      }
      case "uint16": {
        const at = this.reserve(2);
        return this.view.setUint16(at, value, true);
      }
      case "int16": {
        const at = this.reserve(2);
        return this.view.setInt16(at, value, true);
      }
      case "uint32": {
        const at = this.reserve(4);
        return this.view.setUint32(at, value, true);
      }
      case "int32": {
        const at = this.reserve(4);
        return this.view.setInt32(at, value, true);
      }
      case "float32": {
        const at = this.reserve(4);
        return this.view.setFloat32(at, value, true);
      }
      case "float64": {
        const at = this.reserve(8);
        return this.view.setFloat64(at, value, true);
      }
    }
  }

  bigint(type: BigIntTypeName, value: bigint): void {
    const at = this.reserve(8); // may replace this.view
    if (type === "uint64") this.view.setBigUint64(at, value, true);
    else this.view.setBigInt64(at, value, true);
  }

  bool(value: boolean): void {
    const at = this.reserve(1); // may replace this.view
    this.view.setUint8(at, value ? 1 : 0);
  }

  /** GGUF strings: uint64 byte length, UTF-8 bytes, no terminator. */
  string(value: string): void {
    const encoded = utf8Encoder.encode(value);
    this.u64(encoded.length);
    const at = this.reserve(encoded.length); // may replace this.bytes with a larger buffer
    this.bytes.set(encoded, at);
  }

  padTo(alignment: number): void {
    this.reserve(alignUp(this.length, alignment) - this.length); // new bytes are already zero
  }

  result(): Uint8Array {
    return this.bytes.slice(0, this.length);
  }
}

function writeEntry(out: ByteWriter, entry: GgufEntry): void {
  out.string(entry.key);
  out.u32(GGUF_VALUE_TYPES[entry.type]);
  switch (entry.type) {
    case "bool":
      return out.bool(entry.value);
    case "string":
      return out.string(entry.value);
    case "uint64":
    case "int64":
      return out.bigint(entry.type, entry.value);
    case "array": {
      out.u32(GGUF_VALUE_TYPES[entry.itemType]);
      out.u64(entry.value.length);
      if (entry.itemType === "string") {
        for (const item of entry.value as readonly string[]) out.string(item);
      } else {
        const items = entry.value as ArrayLike<number>;
        for (let i = 0; i < items.length; i++) out.number(entry.itemType, items[i]!);
      }
      return;
    }
    default:
      return out.number(entry.type, entry.value);
  }
}

/** The header (magic to the padding before the data section), ready to be followed by the data. */
export function encodeGgufHeader(entries: readonly GgufEntry[], tensors: readonly GgufTensorInfo[], alignment = GGUF_DEFAULT_ALIGNMENT): Uint8Array {
  const out = new ByteWriter();
  out.u32(GGUF_MAGIC);
  out.u32(GGUF_VERSION);
  out.u64(tensors.length);
  out.u64(entries.length);
  for (const entry of entries) writeEntry(out, entry);
  for (const tensor of tensors) {
    out.string(tensor.name);
    out.u32(tensor.dims.length);
    for (const dim of tensor.dims) out.u64(dim);
    out.u32(tensor.type);
    out.u64(tensor.offset);
  }
  out.padTo(alignment);
  return out.result();
}

// ---- reading ----------------------------------------------------------------------------------

/** Thrown inside the parser when the header runs past the bytes read so far but not past the file. */
export class NeedMoreBytes extends Error {
  constructor() {
    super("header continues past the bytes read so far");
  }
}

const utf8Decoder = new TextDecoder("utf-8", { fatal: true });

/** Sequential little-endian reads over the first bytes of a file, with truncation checks. */
class ByteReader {
  private readonly view: DataView;
  offset = 0;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly fileSize: number,
    private readonly file: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Claims n bytes for `what`, returning their offset. */
  take(n: number, what: string): number {
    const at = this.offset;
    if (at + n > this.fileSize) {
      throw new MalformedCheckpointError(this.file, `truncated: ${what} needs ${n} bytes at offset ${at}, the file has ${this.fileSize}`);
    }
    if (at + n > this.bytes.length) throw new NeedMoreBytes();
    this.offset += n;
    return at;
  }

  u32(what: string): number {
    return this.view.getUint32(this.take(4, what), true);
  }

  /** A uint64 used as a count, length or offset: it must fit a JS number exactly. */
  size(what: string): number {
    const value = this.view.getBigUint64(this.take(8, what), true);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new MalformedCheckpointError(this.file, `${what} is ${value}, beyond any real file`);
    return Number(value);
  }

  string(what: string): string {
    const length = this.size(`${what} length`);
    checkLimit("stringBytes", `${what} length`, length, this.file);
    const at = this.take(length, what);
    try {
      return utf8Decoder.decode(this.bytes.subarray(at, at + length));
    } catch {
      throw new MalformedCheckpointError(this.file, `${what} at offset ${at} is not valid UTF-8`);
    }
  }

  /** Bytes left in the file after the current offset, to bound array counts before allocating. */
  remainingInFile(): number {
    return this.fileSize - this.offset;
  }

  /** One metadata value; `depth` counts the arrays it is nested in (limited, so recursion is bounded). */
  value(type: number, what: string, depth = 0): GgufValue {
    switch (type) {
      case GGUF_VALUE_TYPES.uint8: return this.view.getUint8(this.take(1, what));
      case GGUF_VALUE_TYPES.int8: return this.view.getInt8(this.take(1, what));
      case GGUF_VALUE_TYPES.uint16: return this.view.getUint16(this.take(2, what), true);
      case GGUF_VALUE_TYPES.int16: return this.view.getInt16(this.take(2, what), true);
      case GGUF_VALUE_TYPES.uint32: return this.view.getUint32(this.take(4, what), true);
      case GGUF_VALUE_TYPES.int32: return this.view.getInt32(this.take(4, what), true);
      case GGUF_VALUE_TYPES.float32: return this.view.getFloat32(this.take(4, what), true);
      case GGUF_VALUE_TYPES.float64: return this.view.getFloat64(this.take(8, what), true);
      case GGUF_VALUE_TYPES.uint64: return this.view.getBigUint64(this.take(8, what), true);
      case GGUF_VALUE_TYPES.int64: return this.view.getBigInt64(this.take(8, what), true);
      case GGUF_VALUE_TYPES.bool: {
        const byte = this.view.getUint8(this.take(1, what));
        if (byte > 1) throw new MalformedCheckpointError(this.file, `${what} is a bool holding ${byte}`);
        return byte === 1;
      }
      case GGUF_VALUE_TYPES.string:
        return this.string(what);
      case GGUF_VALUE_TYPES.array: {
        checkLimit("nestingDepth", `${what} array nesting depth`, depth + 1, this.file);
        const itemType = this.u32(`${what} item type`);
        const itemBytes = MIN_VALUE_BYTES[itemType];
        if (itemBytes === undefined) throw new MalformedCheckpointError(this.file, `${what} is an array of unknown GGUF value type ${itemType}`);
        const count = this.size(`${what} count`);
        checkLimit("arrayItems", `${what} count`, count, this.file);
        // Each item takes at least itemBytes, so a count beyond the file is a lie: fail before allocating.
        if (count * itemBytes > this.remainingInFile()) {
          throw new MalformedCheckpointError(this.file, `truncated: ${what} claims ${count} items of at least ${itemBytes} bytes, the file has ${this.remainingInFile()} bytes left`);
        }
        const items: GgufValue[] = new Array(count);
        for (let i = 0; i < count; i++) items[i] = this.value(itemType, what, depth + 1);
        return items;
      }
      default:
        throw new MalformedCheckpointError(this.file, `${what} has unknown GGUF value type ${type}`);
    }
  }
}

/** The fewest bytes a value of each GGUF type takes: its width, or its length / count prefix. */
const MIN_VALUE_BYTES: Readonly<Record<number, number>> = {
  [GGUF_VALUE_TYPES.uint8]: 1,
  [GGUF_VALUE_TYPES.int8]: 1,
  [GGUF_VALUE_TYPES.bool]: 1,
  [GGUF_VALUE_TYPES.uint16]: 2,
  [GGUF_VALUE_TYPES.int16]: 2,
  [GGUF_VALUE_TYPES.uint32]: 4,
  [GGUF_VALUE_TYPES.int32]: 4,
  [GGUF_VALUE_TYPES.float32]: 4,
  [GGUF_VALUE_TYPES.uint64]: 8,
  [GGUF_VALUE_TYPES.int64]: 8,
  [GGUF_VALUE_TYPES.float64]: 8,
  [GGUF_VALUE_TYPES.string]: 8,
  [GGUF_VALUE_TYPES.array]: 12,
};

/**
 * Parses the header from the first bytes of a file of `fileSize` bytes. Throws NeedMoreBytes when
 * `bytes` ends before the header does (the caller reads more and retries), and
 * MalformedCheckpointError for a bad magic, an unsupported version or a truncated file.
 */
export function decodeGgufHeader(bytes: Uint8Array, fileSize: number, file: string): GgufHeader {
  const reader = new ByteReader(bytes, fileSize, file);
  const magic = reader.u32("magic");
  if (magic !== GGUF_MAGIC) {
    const shown = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, "0")).join(" ");
    throw new MalformedCheckpointError(file, `not a GGUF file: magic bytes are ${shown}, expected 47 47 55 46 ("GGUF")`);
  }
  const version = reader.u32("version");
  if (version !== GGUF_VERSION) {
    throw new MalformedCheckpointError(file, `unsupported GGUF version ${version}; only version ${GGUF_VERSION} is read`);
  }
  const tensorCount = reader.size("tensor count");
  const entryCount = reader.size("metadata count");
  checkLimit("tensorCount", "tensor count", tensorCount, file);
  checkLimit("metadataEntries", "metadata count", entryCount, file);
  // Each entry and tensor info takes well over 8 bytes; bound the counts by the file size.
  if (tensorCount > fileSize / 8 || entryCount > fileSize / 8) {
    throw new MalformedCheckpointError(file, `truncated: header claims ${tensorCount} tensors and ${entryCount} metadata entries in ${fileSize} bytes`);
  }
  const metadata = new Map<string, GgufValue>();
  for (let i = 0; i < entryCount; i++) {
    const key = reader.string(`metadata key #${i}`);
    if (metadata.has(key)) throw new MalformedCheckpointError(file, `metadata key '${key}' appears twice`);
    const type = reader.u32(`type of '${key}'`);
    metadata.set(key, reader.value(type, `metadata '${key}'`));
  }
  const alignmentValue = metadata.get("general.alignment") ?? GGUF_DEFAULT_ALIGNMENT;
  if (typeof alignmentValue !== "number" || !Number.isInteger(alignmentValue) || alignmentValue <= 0 || (alignmentValue & (alignmentValue - 1)) !== 0) {
    throw new MalformedCheckpointError(file, `general.alignment is ${String(alignmentValue)}, not a power of two`);
  }
  const alignment = alignmentValue;
  const tensors: GgufTensorInfo[] = [];
  const names = new Set<string>();
  for (let i = 0; i < tensorCount; i++) {
    const name = reader.string(`tensor name #${i}`);
    if (names.has(name)) throw new MalformedCheckpointError(file, `tensor '${name}' appears twice`);
    names.add(name);
    const nDims = reader.u32(`dimension count of '${name}'`);
    if (nDims < 1 || nDims > MAX_DIMS) throw new MalformedCheckpointError(file, `tensor '${name}' has ${nDims} dimensions; ggml allows 1 to ${MAX_DIMS}`);
    const dims: number[] = [];
    let elements = 1;
    for (let d = 0; d < nDims; d++) {
      dims.push(reader.size(`dimension ${d} of '${name}'`));
      elements *= dims[d]!;
    }
    checkLimit("tensorElements", `element count of tensor '${name}' {${dims.join(", ")}}`, elements, file);
    const type = reader.u32(`ggml type of '${name}'`);
    const offset = reader.size(`data offset of '${name}'`);
    if (offset % alignment !== 0) throw new MalformedCheckpointError(file, `tensor '${name}' data offset ${offset} is not a multiple of the alignment ${alignment}`);
    tensors.push({ name, dims, type, offset });
  }
  return { version, metadata, tensors, alignment, dataOffset: alignUp(reader.offset, alignment) };
}

/**
 * A header may not claim more bytes than the file has: the data of every tensor of a type we read
 * must lie inside the file (in whole blocks), and any other tensor must at least begin inside it.
 * Readers call this before allocating for any tensor.
 */
export function checkTensorSpans(header: GgufHeader, fileSize: number, file: string): void {
  for (const tensor of header.tensors) {
    const start = header.dataOffset + tensor.offset;
    let bytes = 0;
    if (isSupportedGgmlType(tensor.type)) {
      const block = ggmlBlockSize(tensor.type);
      if (tensor.dims[0]! % block !== 0) {
        throw new MalformedCheckpointError(file, `tensor '${tensor.name}' rows of ${tensor.dims[0]} are not whole ${ggmlTypeName(tensor.type)} blocks of ${block}`);
      }
      bytes = ggmlByteSize(tensor.type, tensor.dims.reduce((a, b) => a * b, 1), tensor.name);
    }
    if (start + bytes > fileSize) {
      throw new MalformedCheckpointError(file, `truncated: tensor '${tensor.name}' needs bytes ${start} to ${start + bytes}, the file has ${fileSize}`);
    }
  }
}
