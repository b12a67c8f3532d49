// The closed set of operations of the graph IR. Every model (the Gemma 2 forward, losses, the
// optimiser update) is written in these; each op has one shape rule (shapes.ts), one rule in the
// reference interpreter, one ONNX lowering and one gradient rule. Dims may be symbolic (dims.ts),
// so one traced graph serves every batch size, sequence length and cached length.
import type { DType } from "../tensor/dtype.js";
import type { HostTensor } from "../tensor/host-tensor.js";
import type { Dims } from "./dims.js";

export type UnaryOpName = "neg" | "exp" | "log" | "tanh" | "erf" | "sqrt" | "rsqrt" | "abs";
export type BinaryOpName = "add" | "sub" | "mul" | "div" | "pow" | "max" | "min";
export type CompareOpName = "less" | "lessOrEqual" | "greater" | "greaterOrEqual" | "equal";
export type ReduceOpName = "sum" | "max";

export type Op =
  /** A value supplied at run time (activations, ids, weights when training). */
  | { kind: "input"; name: string }
  /** A value fixed in the graph (weights for inference, small constants). */
  | { kind: "constant"; value: HostTensor }
  | { kind: "unary"; op: UnaryOpName }
  /** Elementwise with numpy broadcasting. */
  | { kind: "binary"; op: BinaryOpName }
  /** Elementwise comparison with broadcasting; the result is bool. */
  | { kind: "compare"; op: CompareOpName }
  /** where(condition, whenTrue, whenFalse), broadcasting all three. */
  | { kind: "where" }
  | { kind: "cast"; to: DType }
  /** Batched matrix product with numpy semantics: [..., M, K] x [..., K, N] -> [..., M, N]. */
  | { kind: "matmul" }
  /**
   * x [..., K] times the transpose of a block-quantized [N, K] matrix (quant/blocks.ts): inputs x,
   * blocks uint8 [N, K / blockSize, blockSize * bits / 8] and scales float32 [N * K / blockSize];
   * result [..., N]. onnxruntime's MatMulNBits.
   */
  | { kind: "matmulNBits"; bits: 4 | 8; blockSize: number }
  | { kind: "reduce"; op: ReduceOpName; axes: readonly number[]; keepDims: boolean }
  | { kind: "softmax"; axis: number }
  /** Rows of `data` ([V, ...]) picked by integer `indices` (any shape): [...indices, ...]. */
  | { kind: "gather" }
  /** The gradient of gather: zeros of `shape` with the rows of `updates` added at `indices`. */
  | { kind: "scatterAdd"; rows: number }
  | { kind: "reshape"; shape: Dims }
  | { kind: "transpose"; perm: readonly number[] }
  /** Half-open ranges per axis, step 1. */
  | { kind: "slice"; starts: Dims; ends: Dims; axes: readonly number[] }
  | { kind: "concat"; axis: number }
  | { kind: "broadcastTo"; shape: Dims };

export type OpKind = Op["kind"];
