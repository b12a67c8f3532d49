// The closed set of operations of the graph IR. Every model (the Gemma 2 forward, losses, the
// optimiser update) is written in these; each op has one shape rule (shapes.ts), one rule in the
// reference interpreter, one ONNX lowering and one gradient rule. Dims may be symbolic (dims.ts),
// so one traced graph serves every batch size, sequence length and cached length.
import type { DType } from "../tensor/dtype.js";
import type { HostTensor } from "../tensor/host-tensor.js";
import type { Dim, Dims } from "./dims.js";

export type UnaryOpName = "neg" | "exp" | "log" | "tanh" | "erf" | "sqrt" | "rsqrt" | "abs" | "cos" | "sin";
export type BinaryOpName = "add" | "sub" | "mul" | "div" | "pow" | "max" | "min";
export type CompareOpName = "less" | "lessOrEqual" | "greater" | "greaterOrEqual" | "equal";
export type ReduceOpName = "sum" | "max";

export type Op =
  /** A value supplied at run time (activations, ids, weights when training). */
  | { kind: "input"; name: string }
  /** A value fixed in the graph (weights for inference, small constants). */
  | { kind: "constant"; value: HostTensor }
  /**
   * The int64 values start, start + 1, ..., end - 1: indices whose count is a symbolic dim
   * (the cache slots of a graph that builds its attention masks from its inputs).
   */
  | { kind: "range"; start: Dim; end: Dim }
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
  /**
   * Entries of `data` [..., V] picked along its last axis by `indices` [..., k] (same leading
   * dims): [..., k]. numpy's take_along_axis, ONNX GatherElements. Losses read k entries of the
   * logits with it without a [..., V] one-hot.
   */
  | { kind: "takeAlong" }
  /** The gradient of takeAlong: zeros [..., size] with `updates` [..., k] added at `indices` [..., k]. */
  | { kind: "scatterAlong"; size: Dim }
  /** The gradient of gather: zeros of `shape` with the rows of `updates` added at `indices`. */
  | { kind: "scatterAdd"; rows: number }
  | { kind: "reshape"; shape: Dims }
  | { kind: "transpose"; perm: readonly number[] }
  /** Half-open ranges per axis, step 1. */
  | { kind: "slice"; starts: Dims; ends: Dims; axes: readonly number[] }
  | { kind: "concat"; axis: number }
  | { kind: "broadcastTo"; shape: Dims };

export type OpKind = Op["kind"];
