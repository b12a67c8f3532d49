// A chunk's positions in memory and as bytes (store-format.ts has the layout). Log-probs are
// stored as float16 by default: round to nearest keeps |stored - exact| <= |logprob| x 2^-11 for
// |logprob| >= 2^-14 (and <= 2^-25 below, in float16's subnormals), so each stored probability is
// within a relative 2^-11 |logprob| of the teacher's: 0.05% at logprob -1, 0.5% at -10.
import { float16ToFloat32, float32ToFloat16 } from "@gemma-ts/core";
import { chunkSections, type IdDtype, type StoreSettings, swapToLittleEndian, type ValueDtype } from "./store-format.js";
import type { SparseScores } from "./teacher.js";

type Layout = Pick<StoreSettings, "k" | "idDtype" | "valueDtype">;

function idArray(dtype: IdDtype, length: number): Uint16Array | Uint32Array {
  return dtype === "uint16" ? new Uint16Array(length) : new Uint32Array(length);
}

function valueArray(dtype: ValueDtype, length: number): Uint16Array | Float32Array {
  return dtype === "float16" ? new Uint16Array(length) : new Float32Array(length);
}

/** Positions collected for one chunk, encoded as they arrive. */
export class ChunkBuilder {
  readonly tokens: Uint16Array | Uint32Array;
  readonly ids: Uint16Array | Uint32Array;
  readonly values: Uint16Array | Float32Array;
  readonly residual: Float32Array;
  size = 0;

  constructor(
    readonly layout: Layout,
    readonly capacity: number,
  ) {
    this.tokens = idArray(layout.idDtype, capacity);
    this.ids = idArray(layout.idDtype, capacity * layout.k);
    this.values = valueArray(layout.valueDtype, capacity * layout.k);
    this.residual = new Float32Array(capacity);
  }

  get full(): boolean {
    return this.size === this.capacity;
  }

  /** Appends position `index` of `scores`, whose input token is `token`. */
  push(token: number, scores: SparseScores, index: number): void {
    const { k } = this.layout;
    const at = this.size * k;
    this.tokens[this.size] = token;
    this.ids.set(scores.ids.subarray(index * k, (index + 1) * k), at);
    const logprobs = scores.logprobs.subarray(index * k, (index + 1) * k);
    if (this.values instanceof Float32Array) this.values.set(logprobs, at);
    else for (let j = 0; j < k; j++) this.values[at + j] = float32ToFloat16(logprobs[j]!);
    this.residual[this.size] = scores.residual[index]!;
    this.size++;
  }

  bytes(): Uint8Array {
    const n = this.size;
    const { k } = this.layout;
    const sections = chunkSections(this.layout, n);
    const out = new Uint8Array(sections.end);
    const put = (array: ArrayBufferView & { BYTES_PER_ELEMENT: number }, count: number, offset: number) => {
      const bytes = new Uint8Array(array.buffer, array.byteOffset, count * array.BYTES_PER_ELEMENT);
      out.set(bytes, offset);
      swapToLittleEndian(out.subarray(offset, offset + bytes.length), array.BYTES_PER_ELEMENT);
    };
    put(this.tokens, n, sections.tokens);
    put(this.ids, n * k, sections.ids);
    put(this.values, n * k, sections.values);
    put(this.residual, n, sections.residual);
    return out;
  }

  reset(): void {
    this.size = 0;
  }
}

export interface DecodedPositions {
  /** The input token at each position. */
  tokens: Int32Array;
  /** [count, k]. */
  ids: Int32Array;
  /** [count, k]; -Infinity in unused slots. */
  logprobs: Float32Array;
  residual: Float32Array;
}

/** Decodes `count` positions from the four section byte ranges of one chunk. */
export function decodeSections(layout: Layout, count: number, sections: { tokens: Uint8Array; ids: Uint8Array; values: Uint8Array; residual: Uint8Array }): DecodedPositions {
  const { k } = layout;
  const id = layout.idDtype === "uint16" ? 2 : 4;
  const words = (bytes: Uint8Array, width: number) => {
    swapToLittleEndian(bytes, width);
    return bytes;
  };
  const asIds = (bytes: Uint8Array, length: number) => {
    const aligned = words(bytes.slice(), id);
    return Int32Array.from(id === 2 ? new Uint16Array(aligned.buffer, 0, length) : new Uint32Array(aligned.buffer, 0, length));
  };
  const tokens = asIds(sections.tokens, count);
  const ids = asIds(sections.ids, count * k);
  const valueCopy = words(sections.values.slice(), layout.valueDtype === "float16" ? 2 : 4);
  let logprobs: Float32Array;
  if (layout.valueDtype === "float32") logprobs = new Float32Array(valueCopy.buffer, 0, count * k);
  else {
    const halves = new Uint16Array(valueCopy.buffer, 0, count * k);
    logprobs = new Float32Array(count * k);
    for (let i = 0; i < halves.length; i++) logprobs[i] = float16ToFloat32(halves[i]!);
  }
  const residual = new Float32Array(words(sections.residual.slice(), 4).buffer, 0, count);
  return { tokens, ids, logprobs, residual };
}
