// Streaming safetensors IO. The reader parses and validates the header once, then reads one tensor
// at a time from an open file handle at its offset, converting half-precision data in bounded
// chunks, so a checkpoint never sits in memory twice. The writer streams tensor by tensor into an
// atomically replaced file. Format: docs/gemma2.md section 3.4; header rules: safetensors-format.ts.
import { open, type FileHandle } from "node:fs/promises";
import { InvalidArgumentError, MalformedCheckpointError, UnsupportedDTypeError } from "../errors.js";
import { allocate, BYTES_PER_ELEMENT, type DType } from "../tensor/dtype.js";
import { HostTensor, sizeOf } from "../tensor/host-tensor.js";
import { atomicWrite } from "./atomic-write.js";
import { readExactly, writeAll } from "./file-handle-io.js";
import {
  encodeSafetensorsHeader,
  hostDType,
  MAX_HEADER_BYTES,
  parseSafetensorsHeader,
  safetensorsDType,
  type HeaderEntry,
  type SafetensorsLayout,
  type SafetensorsTensorInfo,
} from "./safetensors-format.js";

// Tensor data is little-endian on disk and is moved into typed arrays (host order) byte for byte:
// every platform Node runs on is little-endian.
const DEFAULT_CHUNK_BYTES = 16 << 20;

export interface SafetensorsReadOptions {
  /** Scratch size for converting half-precision tensors (default 16 MiB); the memory bound beyond the result. */
  chunkBytes?: number;
}

export class SafetensorsReader {
  private readonly byName: Map<string, SafetensorsTensorInfo>;
  private closed = false;

  private constructor(
    readonly file: string,
    private readonly handle: FileHandle,
    /** Byte position of the data buffer in the file: 8 + header length. */
    private readonly dataStart: number,
    private readonly layout: SafetensorsLayout,
    private readonly chunkBytes: number,
  ) {
    this.byName = new Map(layout.tensors.map((tensor) => [tensor.name, tensor]));
  }

  /** Opens `file` and validates its header; no tensor data is read yet. */
  static async open(file: string, options: SafetensorsReadOptions = {}): Promise<SafetensorsReader> {
    const chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
    if (!Number.isSafeInteger(chunkBytes) || chunkBytes < 8) throw new InvalidArgumentError("chunkBytes", `must be an integer >= 8, got ${chunkBytes}`);
    const handle = await open(file, "r");
    try {
      const size = (await handle.stat()).size;
      if (size < 8) throw new MalformedCheckpointError(file, `the file is ${size} bytes, too short for the 8-byte header length`);
      const prefix = new Uint8Array(8);
      await readExactly(handle, prefix, 0, file);
      const headerBytes = new DataView(prefix.buffer).getBigUint64(0, true);
      if (headerBytes > BigInt(size - 8)) {
        throw new MalformedCheckpointError(file, `header length ${headerBytes} runs past the end of the ${size}-byte file (truncated, or not safetensors)`);
      }
      if (headerBytes > BigInt(MAX_HEADER_BYTES)) throw new MalformedCheckpointError(file, `header length ${headerBytes} exceeds the format's ${MAX_HEADER_BYTES}-byte limit`);
      const header = new Uint8Array(Number(headerBytes));
      await readExactly(handle, header, 8, file);
      const dataStart = 8 + header.length;
      const layout = parseSafetensorsHeader(file, header, size - dataStart);
      return new SafetensorsReader(file, handle, dataStart, layout, chunkBytes);
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  /** The tensors in file order, with their stored dtype, shape and offsets. */
  get tensors(): readonly SafetensorsTensorInfo[] {
    return this.layout.tensors;
  }

  get metadata(): Readonly<Record<string, string>> | undefined {
    return this.layout.metadata;
  }

  info(name: string): SafetensorsTensorInfo | undefined {
    return this.byName.get(name);
  }

  /** A tensor as stored: float16/bfloat16 as raw 16-bit words, int32/int64 as integers. */
  async readRaw(name: string): Promise<HostTensor> {
    const info = this.find(name);
    const dtype = hostDType(info, this.file);
    const data = allocate(dtype, sizeOf(info.shape));
    // Straight into the result's memory: no staging copy.
    await readExactly(this.handle, new Uint8Array(data.buffer, data.byteOffset, data.byteLength), this.dataStart + info.begin, this.file);
    return new HostTensor(dtype, info.shape, data);
  }

  /** A tensor with F32/F16/BF16 data as float32 (exact: every half value is a float32) and I32/I64 as stored. */
  async read(name: string): Promise<HostTensor> {
    const info = this.find(name);
    const dtype = hostDType(info, this.file);
    if (dtype !== "float16" && dtype !== "bfloat16") return this.readRaw(name);
    // Half data goes through bounded chunks, so the half copy of a tensor never exists whole next
    // to its float32 result.
    const out = new Float32Array(sizeOf(info.shape));
    let at = 0;
    for await (const chunk of this.readFloat32Chunks(name, Math.max(1, Math.floor(this.chunkBytes / 2)))) {
      out.set(chunk, at);
      at += chunk.length;
    }
    return new HostTensor("float32", info.shape, out);
  }

  /**
   * A float tensor as float32 chunks of at most `maxElements` (a multiple of `multipleOf`), in
   * order: the way to convert a large tensor (quantize it, say) without holding it whole.
   */
  async *readFloat32Chunks(name: string, maxElements: number, multipleOf = 1): AsyncGenerator<Float32Array> {
    const info = this.find(name);
    const dtype = hostDType(info, this.file);
    if (dtype !== "float32" && dtype !== "float16" && dtype !== "bfloat16") throw new UnsupportedDTypeError(dtype, `chunked float reads of '${name}'`);
    const width = BYTES_PER_ELEMENT[dtype];
    const total = sizeOf(info.shape);
    const step = Math.max(multipleOf, Math.floor(maxElements / multipleOf) * multipleOf);
    const raw = allocate(dtype, Math.min(total, step));
    const rawBytes = new Uint8Array(raw.buffer);
    for (let start = 0; start < total; start += step) {
      const count = Math.min(step, total - start);
      await readExactly(this.handle, rawBytes.subarray(0, count * width), this.dataStart + info.begin + start * width, this.file);
      const piece = raw.subarray(0, count) as Float32Array | Uint16Array;
      yield piece instanceof Float32Array ? piece.slice() : new HostTensor(dtype as "float16" | "bfloat16", [count], piece).toFloat32().data;
    }
  }

  async readFloat32(name: string): Promise<HostTensor<"float32">> {
    return (await this.read(name)).toFloat32();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.handle.close();
  }

  private find(name: string): SafetensorsTensorInfo {
    const info = this.byName.get(name);
    if (!info) throw new InvalidArgumentError("name", `no tensor '${name}' in ${this.file}`);
    return info;
  }
}

/** Every tensor of a file, read one at a time (floats as float32), in file order. */
export async function readSafetensors(file: string, options: SafetensorsReadOptions = {}): Promise<Map<string, HostTensor>> {
  const reader = await SafetensorsReader.open(file, options);
  try {
    const tensors = new Map<string, HostTensor>();
    for (const info of reader.tensors) tensors.set(info.name, await reader.read(info.name));
    return tensors;
  } finally {
    await reader.close();
  }
}

export type StorageFloatDType = "float32" | "bfloat16" | "float16";

export interface WriteSafetensorsOptions {
  /** Store floating-point tensors in this dtype (round to nearest even); default: each tensor's own. Integer tensors keep theirs. */
  dtype?: StorageFloatDType;
  /** Extra header metadata; `format: "pt"` is always written, as transformers expects it. */
  metadata?: Record<string, string>;
  /** Elements converted per step when changing dtype (bounds the scratch memory). */
  chunkElements?: number;
}

/** Data bytes a tensor takes in a file written with `dtype`. */
export function storedByteSize(tensor: HostTensor, dtype: StorageFloatDType | undefined): number {
  return tensor.size * BYTES_PER_ELEMENT[storedDType(tensor.dtype, dtype)];
}

/**
 * Writes tensors to `file` atomically, streaming tensor by tensor; returns the data bytes written.
 * Tensors are laid out as the Rust writer does (wider dtypes first, then by name) so every
 * tensor's data is aligned to its element size.
 */
export async function writeSafetensors(
  file: string,
  tensors: Iterable<readonly [string, HostTensor]>,
  options: WriteSafetensorsOptions = {},
): Promise<number> {
  const chunkElements = options.chunkElements ?? DEFAULT_CHUNK_BYTES / 4;
  if (!Number.isSafeInteger(chunkElements) || chunkElements < 1) throw new InvalidArgumentError("chunkElements", `must be a positive integer, got ${chunkElements}`);
  const list = [...tensors].map(([name, tensor]) => ({ name, tensor, dtype: storedDType(tensor.dtype, options.dtype) }));
  list.sort((a, b) => BYTES_PER_ELEMENT[b.dtype] - BYTES_PER_ELEMENT[a.dtype] || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const entries: HeaderEntry[] = list.map(({ name, tensor, dtype }) => ({
    name,
    dtype: safetensorsDType(dtype, name),
    shape: tensor.shape,
    bytes: tensor.size * BYTES_PER_ELEMENT[dtype],
  }));
  const header = encodeSafetensorsHeader(entries, { ...options.metadata, format: "pt" });
  let position = 0;
  await atomicWrite(file, async (handle) => {
    await writeAll(handle, header, 0);
    position = header.length;
    for (const { tensor, dtype } of list) {
      for (const chunk of storedChunks(tensor, dtype, chunkElements)) {
        await writeAll(handle, chunk, position);
        position += chunk.length;
      }
    }
  });
  return position - header.length;
}

function storedDType(dtype: DType, requested: StorageFloatDType | undefined): DType {
  const isFloat = dtype === "float32" || dtype === "float16" || dtype === "bfloat16";
  return isFloat && requested ? requested : dtype;
}

/** The tensor's bytes in `dtype`: its own memory when no conversion is needed, else converted chunks. */
function* storedChunks(tensor: HostTensor, dtype: DType, chunkElements: number): Generator<Uint8Array> {
  const data = tensor.data;
  if (tensor.dtype === dtype) {
    yield new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    return;
  }
  for (let start = 0; start < tensor.size; start += chunkElements) {
    const end = Math.min(start + chunkElements, tensor.size);
    const piece = new HostTensor(tensor.dtype, [end - start], data.subarray(start, end));
    const converted = dtype === "float32" ? piece.toFloat32() : piece.toHalf(dtype as "float16" | "bfloat16");
    yield new Uint8Array(converted.data.buffer, converted.data.byteOffset, converted.data.byteLength);
  }
}
