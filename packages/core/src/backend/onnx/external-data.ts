// ONNX external data: large initializers stored in a separate file, each at a page-aligned
// offset named by its TensorProto (location, offset, length), as onnx.proto defines it. Models
// past protobuf's 2 GiB limit need it; onnxruntime maps or reads the file relative to the model's
// path, and Optimum names it model.onnx_data.
import { open } from "node:fs/promises";
import onnxProto from "onnx-proto";
import { writeAll } from "../../io/file-handle-io.js";
import type { TensorProto } from "./tensor-proto.js";

const { onnx } = onnxProto;

/** Where large initializers go instead of the protobuf. */
export interface ExternalDataOptions {
  /** Initializers of at least this many bytes are moved to the data file. */
  minBytes: number;
  /** The data file's name, relative to the model file. */
  location: string;
}

/** The data file's contents: write each chunk at its offset. */
export interface ExternalData {
  chunks: { offset: number; bytes: Uint8Array }[];
  /** The data file's size. */
  bytes: number;
}

/** Offsets are page-aligned, so onnxruntime can map tensors rather than copy them. */
const ALIGNMENT = 65536;

/**
 * Moves the raw data of every large initializer (int64 ones excepted: they are shapes and axes,
 * which shape inference must read inline) to the data file, in place; returns the file's chunks.
 */
export function moveToExternalData(initializers: readonly TensorProto[], options: ExternalDataOptions): ExternalData {
  const chunks: ExternalData["chunks"] = [];
  let size = 0;
  for (const proto of initializers) {
    const raw = proto.rawData;
    if (!raw || raw.length < options.minBytes || proto.dataType === onnx.TensorProto.DataType.INT64) continue;
    const offset = Math.ceil(size / ALIGNMENT) * ALIGNMENT;
    chunks.push({ offset, bytes: raw });
    size = offset + raw.length;
    proto.rawData = null;
    proto.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
    proto.externalData = [
      { key: "location", value: options.location },
      { key: "offset", value: String(offset) },
      { key: "length", value: String(raw.length) },
    ];
  }
  return { chunks, bytes: size };
}

/** Writes the data file (the caller makes it atomic where it needs to be). */
export async function writeExternalData(file: string, data: ExternalData): Promise<void> {
  const handle = await open(file, "w");
  try {
    for (const chunk of data.chunks) await writeAll(handle, chunk.bytes, chunk.offset);
  } finally {
    await handle.close();
  }
}
