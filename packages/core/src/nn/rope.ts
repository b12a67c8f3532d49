// Rotary position embeddings in the half-split ("rotate_half", GPT-NeoX) layout that Gemma uses:
// the first half of each head's features pairs with the second half. The runtime computes the
// cos/sin tables on the host for the positions at hand and feeds them to the graph, so one
// compiled graph serves every decode position; an exported graph, whose callers feed only
// position ids, computes the same tables in the graph (ropeTablesFromPositions).
import { ShapeMismatchError } from "../errors.js";
import type { SymbolicTensor } from "../graph/builder.js";
import type { Dim } from "../graph/dims.js";
import { HostTensor } from "../tensor/host-tensor.js";

/** theta^(-2i/headDim) for i < headDim/2, in float32 as Hugging Face computes inv_freq. */
export function inverseFrequencies(headDim: number, theta: number): HostTensor<"float32"> {
  const half = headDim / 2;
  const out = HostTensor.float32([half]);
  for (let i = 0; i < half; i++) out.data[i] = Math.fround(1 / Math.fround(theta ** ((2 * i) / headDim)));
  return out;
}

/**
 * cos and sin of position * theta^(-2i/headDim) for i < headDim/2, in float32 as Hugging Face
 * computes them (inv_freq in float32, then the product). positions [T] -> two [T, headDim/2].
 */
export function ropeTables(positions: ArrayLike<number>, headDim: number, theta: number): { cos: HostTensor<"float32">; sin: HostTensor<"float32"> } {
  const half = headDim / 2;
  const inverse = inverseFrequencies(headDim, theta).data;
  const cos = HostTensor.float32([positions.length, half]);
  const sin = HostTensor.float32([positions.length, half]);
  for (let i = 0; i < half; i++) {
    for (let t = 0; t < positions.length; t++) {
      const angle = Math.fround(positions[t]! * inverse[i]!);
      cos.data[t * half + i] = Math.cos(angle);
      sin.data[t * half + i] = Math.sin(angle);
    }
  }
  return { cos, sin };
}

/**
 * The tables of ropeTables traced from integer positions [B, T] (each row at its own positions):
 * cos and sin [B, 1, T, headDim/2], broadcasting over heads. The angle is the same float32
 * product; cos and sin are then the backend's float32 ones.
 */
export function ropeTablesFromPositions(positions: SymbolicTensor, headDim: number, theta: number): { cos: SymbolicTensor; sin: SymbolicTensor } {
  if (positions.rank !== 2) throw new ShapeMismatchError("ropeTablesFromPositions", `positions must be [B, T], got [${positions.shape.join(", ")}]`);
  const [B, T] = positions.shape as [Dim, Dim];
  const angles = positions.cast("float32").reshape([B, 1, T, 1]).mul(positions.builder.constant(inverseFrequencies(headDim, theta)));
  return { cos: angles.cos(), sin: angles.sin() };
}

/** x [B, heads, T, headDim] rotated by the tables cos, sin [T, headDim/2]. */
export function applyRope(x: SymbolicTensor, cos: SymbolicTensor, sin: SymbolicTensor): SymbolicTensor {
  const headDim = x.shape[x.rank - 1]!;
  if (typeof headDim !== "number") throw new ShapeMismatchError("applyRope", `the head axis must be static, got ${headDim}`);
  const half = headDim / 2;
  const x1 = x.slice(-1, 0, half);
  const x2 = x.slice(-1, half, headDim);
  const first = x1.mul(cos).sub(x2.mul(sin));
  const second = x2.mul(cos).add(x1.mul(sin));
  return x.builder.concat([first, second], -1);
}
