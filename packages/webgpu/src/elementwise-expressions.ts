// The WGSL expression of each elementwise IR op over its operands a, b, c (already loaded as
// their WGSL scalars: f32 for floats, i32 for ints, u32 0/1 for bools), following the ONNX
// operator the op lowers to, as the reference backend does.
import type { BinaryOpName, CompareOpName, DType, UnaryOpName } from "@gemma-ts/core";
import { UnsupportedDTypeError } from "@gemma-ts/core";
import { wgslScalar } from "./element-storage.js";

const FLOAT_UNARY: Readonly<Record<UnaryOpName, string>> = {
  neg: "-a",
  exp: "exp_(a)",
  log: "log(a)",
  tanh: "tanh_(a)",
  erf: "erf_(a)",
  sqrt: "sqrt(a)",
  // Not inverseSqrt: WGSL allows it 2 ulp more error than a division by sqrt.
  rsqrt: "1.0 / sqrt(a)",
  abs: "abs(a)",
  cos: "cos_(a)",
  sin: "sin_(a)",
};

const BINARY: Readonly<Record<BinaryOpName, string>> = {
  add: "a + b",
  sub: "a - b",
  mul: "a * b",
  div: "a / b",
  pow: "pow_(a, b)",
  // WGSL's max and min may return either operand for NaN; ONNX's propagate it.
  max: "select(max(a, b), a + b, is_nan_(a) || is_nan_(b))",
  min: "select(min(a, b), a + b, is_nan_(a) || is_nan_(b))",
};

/** Integer forms: WGSL's a / 0 is a; the reference's is 0 (the division's infinity, truncated). */
const INTEGER_BINARY: Readonly<Record<BinaryOpName, string>> = { ...BINARY, div: "select(a / b, 0, b == 0)", max: "max(a, b)", min: "min(a, b)" };

const COMPARE: Readonly<Record<CompareOpName, string>> = {
  less: "<",
  lessOrEqual: "<=",
  greater: ">",
  greaterOrEqual: ">=",
  equal: "==",
};

/** Rounds a float32 result to the node's narrower float dtype, as the reference rounds every result. */
function narrowed(expression: string, dtype: DType): string {
  if (dtype === "float16") return `to_f16_(${expression})`;
  if (dtype === "bfloat16") return `to_bf16_(${expression})`;
  return expression;
}

export function unaryExpression(op: UnaryOpName, dtype: DType): string {
  const scalar = wgslScalar(dtype);
  if (scalar === "f32") return narrowed(FLOAT_UNARY[op], dtype);
  if (scalar === "i32" && (op === "neg" || op === "abs")) return FLOAT_UNARY[op];
  throw new UnsupportedDTypeError(dtype, `unary ${op} on the webgpu backend`);
}

export function binaryExpression(op: BinaryOpName, dtype: DType): string {
  const scalar = wgslScalar(dtype);
  if (scalar === "f32") return narrowed(BINARY[op], dtype);
  if (dtype === "uint8" || op === "pow") throw new UnsupportedDTypeError(dtype, `binary ${op} on the webgpu backend`);
  if (scalar === "u32") return `select(0u, 1u, (${op === "div" ? "select(a / b, 0u, b == 0u)" : INTEGER_BINARY[op]}) != 0u)`;
  return INTEGER_BINARY[op];
}

export function compareExpression(op: CompareOpName): string {
  return `select(0u, 1u, a ${COMPARE[op]} b)`;
}

/** where(a, b, c): the condition a is a bool. */
export function whereExpression(dtype: DType): string {
  return narrowed("select(c, b, a != 0u)", dtype);
}

export function castExpression(from: DType, to: DType): string {
  if (to === "uint8") throw new UnsupportedDTypeError("uint8", "cast to uint8 on the webgpu backend");
  const source = wgslScalar(from);
  switch (to) {
    case "float32":
    case "float16":
    case "bfloat16":
      return narrowed(source === "f32" ? "a" : "f32(a)", to);
    case "int32":
    case "int64":
      // Truncation toward zero; NaN and infinities become 0, as the reference backend's toInteger.
      if (source === "f32") return "select(0, i32(trunc(a)), abs(a) < 2147483648.0)";
      return source === "i32" ? "a" : "i32(a)";
    case "bool":
      return source === "f32" ? "select(0u, 1u, a != 0.0)" : source === "i32" ? "select(0u, 1u, a != 0)" : "select(0u, 1u, a != 0u)";
  }
}

/** The zero of a dtype's WGSL scalar. */
export function zeroOf(dtype: DType): string {
  const scalar = wgslScalar(dtype);
  return scalar === "f32" ? "0.0" : scalar === "i32" ? "0" : "0u";
}
