// Tensor payloads of the GGUF types we support (F32, F16, Q4_0, Q8_0), converted to and from float32
// a chunk of whole blocks at a time. Layouts: ggml's ggml-common.h (block_q4_0, block_q8_0), F16 is
// IEEE binary16.
// Bytes are little-endian on disk and typed arrays use the host's order: every Node platform is
// little-endian (as src/io/safetensors.ts assumes too).
import { float16ToFloat32, float32ToFloat16 } from "../tensor/half.js";
import { GGML_F16, GGML_F32, GGML_Q4_0, type SupportedGgmlType } from "./gguf-format.js";
import { dequantizeQ4_0, quantizeQ4_0 } from "./q4-0.js";
import { dequantizeQ8_0, quantizeQ8_0 } from "./q8-0.js";

let float16Table: Float32Array | undefined;

/** All 65,536 binary16 values as float32: one lookup per element instead of a conversion. */
function float16ToFloat32Table(): Float32Array {
  if (!float16Table) {
    float16Table = new Float32Array(65536);
    for (let word = 0; word < 65536; word++) float16Table[word] = float16ToFloat32(word);
  }
  return float16Table;
}

/** Encodes `values` (a whole number of blocks of `type`) into `out`, which has exactly the bytes they take. */
export function encodeTensorData(values: Float32Array, type: SupportedGgmlType, out: Uint8Array): void {
  if (type === GGML_F32) {
    out.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
  } else if (type === GGML_F16) {
    const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
    for (let i = 0; i < values.length; i++) view.setUint16(2 * i, float32ToFloat16(values[i]!), true);
  } else if (type === GGML_Q4_0) {
    quantizeQ4_0(values, out);
  } else {
    quantizeQ8_0(values, out);
  }
}

/** Decodes `bytes` into `out` (a whole number of blocks of `type`). */
export function decodeTensorData(bytes: Uint8Array, type: SupportedGgmlType, out: Float32Array): void {
  if (type === GGML_F32) {
    new Uint8Array(out.buffer, out.byteOffset, out.byteLength).set(bytes.subarray(0, out.byteLength));
  } else if (type === GGML_F16) {
    const table = float16ToFloat32Table();
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < out.length; i++) out[i] = table[view.getUint16(2 * i, true)]!;
  } else if (type === GGML_Q4_0) {
    dequantizeQ4_0(bytes, out);
  } else {
    dequantizeQ8_0(bytes, out);
  }
}
