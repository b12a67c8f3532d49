// The safetensors container, without any file access: the dtype table, parsing and validating the
// JSON header against the size of the data buffer, and encoding a header for the writer.
// Follows docs/gemma2.md section 3.4 (the format spec and the Rust crate's validator, which
// this mirrors: contiguous tensors covering the buffer exactly, no duplicates, 100 MB header cap).
import { InvalidArgumentError, MalformedCheckpointError, UnsupportedDTypeError } from "../errors.js";
import type { DType } from "../tensor/dtype.js";
import { checkLimit, LOADER_LIMITS } from "./limits.js";

/** Bytes per element of every dtype the format defines with a whole-byte width. */
const ELEMENT_BYTES: Readonly<Record<string, number>> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  F8_E8M0: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
  C64: 8,
};

/** The safetensors dtypes this package turns into HostTensors, and back. */
const TO_DTYPE: Readonly<Record<string, DType>> = { F32: "float32", F16: "float16", BF16: "bfloat16", I32: "int32", I64: "int64" };
const FROM_DTYPE: Readonly<Partial<Record<DType, string>>> = { float32: "F32", float16: "F16", bfloat16: "BF16", int32: "I32", int64: "I64" };

/** The Rust crate refuses larger headers; so do we, before allocating for one. */
export const MAX_HEADER_BYTES = LOADER_LIMITS.safetensorsHeaderBytes.max;

export interface SafetensorsTensorInfo {
  readonly name: string;
  /** The safetensors dtype string, e.g. "BF16". */
  readonly dtype: string;
  readonly shape: readonly number[];
  /** Byte offsets relative to the start of the data buffer; end is exclusive. */
  readonly begin: number;
  readonly end: number;
}

export interface SafetensorsLayout {
  /** In file order (ascending offsets). */
  readonly tensors: readonly SafetensorsTensorInfo[];
  readonly metadata: Readonly<Record<string, string>> | undefined;
}

/** The HostTensor dtype a safetensors dtype reads into; UnsupportedDTypeError names the tensor otherwise. */
export function hostDType(info: Pick<SafetensorsTensorInfo, "name" | "dtype">, file: string): DType {
  const dtype = TO_DTYPE[info.dtype];
  if (!dtype) throw new UnsupportedDTypeError(info.dtype, `tensor '${info.name}' in ${file}`);
  return dtype;
}

/** The safetensors dtype string a HostTensor dtype is stored as. */
export function safetensorsDType(dtype: DType, tensor: string): string {
  const name = FROM_DTYPE[dtype];
  if (!name) throw new UnsupportedDTypeError(dtype, `tensor '${tensor}' (safetensors output)`);
  return name;
}

export function safetensorsElementBytes(dtype: string): number | undefined {
  return ELEMENT_BYTES[dtype];
}

/**
 * Parses the JSON header (the N bytes after the length prefix) and checks it against a data buffer
 * of `dataBytes` bytes. Everything a reader later trusts (offsets, spans) is checked here.
 */
export function parseSafetensorsHeader(file: string, header: Uint8Array, dataBytes: number): SafetensorsLayout {
  const bad = (problem: string): MalformedCheckpointError => new MalformedCheckpointError(file, problem);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(header);
  } catch {
    throw bad("the header is not valid UTF-8");
  }
  // The Rust crate insists on '{' first; JSON.parse alone would also take leading whitespace.
  if (!text.startsWith("{")) throw bad("the header does not start with '{'");
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw bad(`the header is not valid JSON (${(error as Error).message})`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw bad("the header is not a JSON object");
  // JSON.parse keeps the last of duplicate keys silently, so duplicates are found in the text.
  const duplicate = firstDuplicateTopLevelKey(text);
  if (duplicate !== undefined) throw bad(`tensor '${duplicate}' appears twice in the header`);

  const entries = Object.entries(json as Record<string, unknown>);
  checkLimit("tensorCount", "tensor count", entries.length, file);
  let metadata: Record<string, string> | undefined;
  const tensors: SafetensorsTensorInfo[] = [];
  for (const [name, entry] of entries) {
    if (name === "__metadata__") {
      metadata = parseMetadata(entry, bad);
      continue;
    }
    tensors.push(parseEntry(name, entry, dataBytes, file, bad));
  }

  // Sorted by offset, each tensor must begin where the previous ended and the last must end at the
  // end of the buffer: no gaps (hidden data), no overlaps (aliased weights), nothing left over.
  tensors.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = 0;
  let previous: string | undefined;
  for (const tensor of tensors) {
    if (tensor.begin < expected) throw bad(`tensor '${tensor.name}' at byte ${tensor.begin} overlaps tensor '${previous}', which ends at byte ${expected}`);
    if (tensor.begin > expected) throw bad(`a gap of ${tensor.begin - expected} bytes before tensor '${tensor.name}' (data_offsets must be contiguous)`);
    expected = tensor.end;
    previous = tensor.name;
  }
  if (expected !== dataBytes) throw bad(`the tensors cover ${expected} bytes but the data buffer holds ${dataBytes}`);
  return { tensors, metadata };
}

function parseMetadata(entry: unknown, bad: (problem: string) => MalformedCheckpointError): Record<string, string> {
  if (typeof entry !== "object" || entry === null || Array.isArray(entry)) throw bad("__metadata__ is not an object");
  for (const [key, value] of Object.entries(entry)) {
    if (typeof value !== "string") throw bad(`__metadata__.${key} is not a string`);
  }
  return entry as Record<string, string>;
}

function parseEntry(name: string, entry: unknown, dataBytes: number, file: string, bad: (problem: string) => MalformedCheckpointError): SafetensorsTensorInfo {
  const where = `tensor '${name}'`;
  if (typeof entry !== "object" || entry === null || Array.isArray(entry)) throw bad(`${where}: the entry is not an object`);
  const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
  if (typeof dtype !== "string") throw bad(`${where}: dtype is not a string`);
  const elementBytes = ELEMENT_BYTES[dtype];
  // An unknown dtype (or a sub-byte one such as F4) leaves the byte span uncheckable.
  if (elementBytes === undefined) throw new UnsupportedDTypeError(dtype, `tensor '${name}' in ${file}`);
  if (!Array.isArray(shape)) throw bad(`${where}: shape ${shown(shape)} is not a list of non-negative integers`);
  checkLimit("tensorRank", `rank of ${where}`, shape.length, file);
  if (!shape.every(isIndex)) throw bad(`${where}: shape ${shown(shape)} is not a list of non-negative integers`);
  checkLimit("tensorElements", `element count of ${where} [${shape.join(", ")}]`, shape.reduce((a: number, b: number) => a * b, 1), file);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isIndex)) {
    throw bad(`${where}: data_offsets ${shown(offsets)} is not a pair of non-negative integers`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) throw bad(`${where}: data_offsets [${begin}, ${end}] end before they begin`);
  if (end > dataBytes) throw bad(`${where}: data_offsets [${begin}, ${end}] run past the end of the ${dataBytes}-byte data buffer (truncated file?)`);
  let bytes = elementBytes;
  for (const dimension of shape as number[]) bytes *= dimension;
  if (bytes !== end - begin) {
    throw bad(`${where}: shape [${shape.join(", ")}] of ${dtype} needs ${bytes} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`);
  }
  return { name, dtype, shape: shape as number[], begin, end };
}

/** A header value for a message: flat values as JSON (cut short), nested ones by kind, never recursing into them. */
function shown(value: unknown): string {
  if (value !== null && typeof value === "object") {
    if (!Array.isArray(value)) return "an object";
    if (value.some((item) => item !== null && typeof item === "object")) return "a nested array";
  }
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 200 ? `${text.slice(0, 200)}...` : text;
}

function isIndex(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

/** Scans syntactically valid JSON text for a repeated key of the outermost object. */
function firstDuplicateTopLevelKey(text: string): string | undefined {
  const seen = new Set<string>();
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "{" || c === "[") depth++;
    else if (c === "}" || c === "]") depth--;
    else if (c === '"') {
      const start = i;
      for (i++; text[i] !== '"'; i++) if (text[i] === "\\") i++;
      if (depth !== 1) continue;
      let j = i + 1;
      while (/\s/.test(text[j] ?? "")) j++;
      if (text[j] !== ":") continue; // a string value, not a key
      const key = JSON.parse(text.slice(start, i + 1)) as string;
      if (seen.has(key)) return key;
      seen.add(key);
    }
  }
  return undefined;
}

export interface HeaderEntry {
  name: string;
  dtype: string;
  shape: readonly number[];
  bytes: number;
}

/**
 * The 8-byte length prefix and the JSON header for tensors laid out in the given order, padded
 * with spaces to a multiple of 8 so the data starts aligned. Key order follows the Rust writer
 * (__metadata__ first; dtype, shape, data_offsets), so the bytes match safetensors' own output.
 */
export function encodeSafetensorsHeader(entries: readonly HeaderEntry[], metadata: Readonly<Record<string, string>>): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const entry of entries) {
    if (entry.name === "__metadata__" || Object.hasOwn(header, entry.name)) {
      throw new InvalidArgumentError("tensors", `tensor name '${entry.name}' is reserved or repeated`);
    }
    header[entry.name] = { dtype: entry.dtype, shape: entry.shape, data_offsets: [offset, offset + entry.bytes] };
    offset += entry.bytes;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + padded).fill(0x20, 8 + json.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  return out;
}
