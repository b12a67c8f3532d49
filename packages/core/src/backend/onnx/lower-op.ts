// One IR node as ONNX nodes, following the ONNX operator specs (onnx/docs/Operators.md) at the
// opset chosen in emit.ts (17 or later). Most ops map one to one; rsqrt is Sqrt then Reciprocal,
// scatterAdd is ScatterND with reduction "add" into ConstantOfShape zeros, range is Range over
// bounds reshaped to scalars, and a bool where is And/Or/Not (onnxruntime has no bool Where).
import { InvalidArgumentError } from "../../errors.js";
import type { Dim, Dims } from "../../graph/dims.js";
import type { Node } from "../../graph/graph.js";
import type { BinaryOpName, CompareOpName, UnaryOpName } from "../../graph/ops.js";
import { HostTensor } from "../../tensor/host-tensor.js";
import { intAttribute, intsAttribute, stringAttribute, tensorAttribute, type Attribute } from "./attributes.js";
import { onnxElementType, tensorProto } from "./tensor-proto.js";

/** What a lowering needs from the model being written; emit.ts implements it. */
export interface LoweringContext {
  readonly opset: number;
  /** The ONNX value name of an IR node's result. */
  valueName(id: number): string;
  /** The IR node with this id (for the dtype and shape of operands). */
  nodeAt(id: number): Node;
  /** Appends a node; `domain` is "" (ONNX) unless a contrib op of onnxruntime's (MICROSOFT_DOMAIN). */
  addNode(opType: string, name: string, inputs: readonly string[], outputs: readonly string[], attributes?: readonly Attribute[], domain?: string): void;
  /** Adds a 1-D int64 initializer and returns its name. */
  addInt64(name: string, values: readonly number[]): string;
  /** A 1-D int64 value holding `dims` (an initializer when static, else computed from the inputs' shapes). */
  dims(dims: Dims, name: string): string;
  /** Adds an IR constant, as an initializer or a Constant node, under this value name. */
  addConstant(name: string, value: HostTensor): void;
}

/** onnxruntime's contrib operators (MatMulNBits), opset 1. */
export const MICROSOFT_DOMAIN = "com.microsoft";

const UNARY: Readonly<Record<Exclude<UnaryOpName, "rsqrt">, string>> = {
  neg: "Neg",
  exp: "Exp",
  log: "Log",
  tanh: "Tanh",
  erf: "Erf",
  sqrt: "Sqrt",
  abs: "Abs",
  cos: "Cos",
  sin: "Sin",
};

const BINARY: Readonly<Record<BinaryOpName, string>> = {
  add: "Add",
  sub: "Sub",
  mul: "Mul",
  div: "Div",
  pow: "Pow",
  max: "Max",
  min: "Min",
};

const COMPARE: Readonly<Record<CompareOpName, string>> = {
  less: "Less",
  lessOrEqual: "LessOrEqual",
  greater: "Greater",
  greaterOrEqual: "GreaterOrEqual",
  equal: "Equal",
};

export function lowerNode(node: Node, ctx: LoweringContext): void {
  const { op, id } = node;
  const name = `n${id}`;
  const out = ctx.valueName(id);
  const args = node.inputs.map((input) => ctx.valueName(input));
  // Auxiliary values and nodes are named after the IR node id (never after an output name, which
  // could collide), so names stay unique and stable.
  const aux = (suffix: string): string => `%${id}.${suffix}`;
  switch (op.kind) {
    case "input":
      return; // a graph input, declared by emit.ts
    case "constant":
      ctx.addConstant(out, op.value);
      return;
    case "range": {
      // Range takes 0-D bounds; a symbolic one is a 1-element value (ctx.dims) made a scalar.
      let scalarShape: string | undefined;
      const bound = (value: Dim, suffix: string): string => {
        const bounded = aux(suffix);
        if (typeof value === "number") {
          ctx.addConstant(bounded, HostTensor.int64([], [value]));
        } else {
          scalarShape ??= ctx.addInt64(aux("scalarShape"), []);
          ctx.addNode("Reshape", `${name}.${suffix}`, [ctx.dims([value], aux(`${suffix}.1d`)), scalarShape], [bounded]);
        }
        return bounded;
      };
      ctx.addNode("Range", name, [bound(op.start, "start"), bound(op.end, "end"), bound(1, "delta")], [out]);
      return;
    }
    case "unary":
      if (op.op === "rsqrt") {
        ctx.addNode("Sqrt", `${name}.sqrt`, args, [aux("sqrt")]);
        ctx.addNode("Reciprocal", name, [aux("sqrt")], [out]);
      } else {
        ctx.addNode(UNARY[op.op], name, args, [out]);
      }
      return;
    case "binary":
      ctx.addNode(BINARY[op.op], name, args, [out]);
      return;
    case "compare":
      ctx.addNode(COMPARE[op.op], name, args, [out]);
      return;
    case "where":
      if (node.dtype === "bool") {
        // onnxruntime has no bool Where kernel: (c and t) or (not c and f).
        const [condition, whenTrue, whenFalse] = args as [string, string, string];
        ctx.addNode("And", `${name}.true`, [condition, whenTrue], [aux("true")]);
        ctx.addNode("Not", `${name}.not`, [condition], [aux("not")]);
        ctx.addNode("And", `${name}.false`, [aux("not"), whenFalse], [aux("false")]);
        ctx.addNode("Or", name, [aux("true"), aux("false")], [out]);
      } else {
        ctx.addNode("Where", name, args, [out]);
      }
      return;
    case "cast":
      ctx.addNode("Cast", name, args, [out], [intAttribute("to", onnxElementType(op.to))]);
      return;
    case "matmul":
      ctx.addNode("MatMul", name, args, [out]);
      return;
    case "matmulNBits": {
      const [rows, blockCount] = ctx.nodeAt(node.inputs[1]!).shape as [number, number, number];
      // accuracy_level 4 quantizes the activations to int8 per block for the dot products, as
      // llama.cpp does for its Q8_0 and Q4_0 matmuls: 3-6x faster than float activations here.
      const attributes = [
        intAttribute("K", blockCount * op.blockSize),
        intAttribute("N", rows),
        intAttribute("bits", op.bits),
        intAttribute("block_size", op.blockSize),
        intAttribute("accuracy_level", 4),
      ];
      ctx.addNode("MatMulNBits", name, args, [out], attributes, MICROSOFT_DOMAIN);
      return;
    }
    case "reduce": {
      // ONNX reads empty axes as "reduce everything"; the IR means "reduce nothing".
      if (op.axes.length === 0) {
        ctx.addNode("Identity", name, args, [out]);
        return;
      }
      const keepdims = intAttribute("keepdims", op.keepDims ? 1 : 0);
      // ReduceSum takes axes as an input since opset 13, ReduceMax only since opset 18.
      if (op.op === "sum" || ctx.opset >= 18) {
        const axes = ctx.addInt64(aux("axes"), op.axes);
        ctx.addNode(op.op === "sum" ? "ReduceSum" : "ReduceMax", name, [...args, axes], [out], [keepdims]);
      } else {
        ctx.addNode("ReduceMax", name, args, [out], [keepdims, intsAttribute("axes", op.axes)]);
      }
      return;
    }
    case "softmax":
      ctx.addNode("Softmax", name, args, [out], [intAttribute("axis", op.axis)]);
      return;
    case "gather":
      ctx.addNode("Gather", name, args, [out], [intAttribute("axis", 0)]);
      return;
    case "takeAlong":
      ctx.addNode("GatherElements", name, args, [out], [intAttribute("axis", -1)]);
      return;
    case "scatterAlong": {
      const [indices, updates] = args as [string, string];
      const zeros = aux("zeros");
      const zero = tensorProto("", HostTensor.zeros(node.dtype, [1]));
      ctx.addNode("ConstantOfShape", `${name}.zeros`, [ctx.dims(node.shape, aux("shape"))], [zeros], [tensorAttribute("value", zero)]);
      ctx.addNode("ScatterElements", name, [zeros, indices, updates], [out], [intAttribute("axis", -1), stringAttribute("reduction", "add")]);
      return;
    }
    case "scatterAdd": {
      const [indices, updates] = args as [string, string];
      const indexNode = ctx.nodeAt(node.inputs[0]!);
      const zeros = aux("zeros");
      const zero = tensorProto("", HostTensor.zeros(node.dtype, [1]));
      ctx.addNode("ConstantOfShape", `${name}.zeros`, [ctx.dims(node.shape, aux("shape"))], [zeros], [tensorAttribute("value", zero)]);
      // ScatterND wants int64 indices whose last axis indexes into data: [...indices, 1].
      let indices64 = indices;
      if (indexNode.dtype !== "int64") {
        indices64 = aux("indices64");
        ctx.addNode("Cast", `${name}.cast`, [indices], [indices64], [intAttribute("to", onnxElementType("int64"))]);
      }
      const indexShape = ctx.dims([...indexNode.shape, 1], aux("indexShape"));
      ctx.addNode("Reshape", `${name}.indices`, [indices64, indexShape], [aux("indices")]);
      ctx.addNode("ScatterND", name, [zeros, aux("indices"), updates], [out], [stringAttribute("reduction", "add")]);
      return;
    }
    case "reshape": {
      // Without allowzero, ONNX reads a 0 in the target shape as "copy this dimension"; a symbolic
      // dim can be 0 at run time, and IR targets are always explicit, so it is always set.
      ctx.addNode("Reshape", name, [...args, ctx.dims(op.shape, aux("shape"))], [out], [intAttribute("allowzero", 1)]);
      return;
    }
    case "transpose":
      ctx.addNode("Transpose", name, args, [out], [intsAttribute("perm", op.perm)]);
      return;
    case "slice": {
      const ranges = [ctx.dims(op.starts, aux("starts")), ctx.dims(op.ends, aux("ends")), ctx.addInt64(aux("axes"), op.axes)];
      ctx.addNode("Slice", name, [...args, ...ranges], [out]);
      return;
    }
    case "concat":
      ctx.addNode("Concat", name, args, [out], [intAttribute("axis", op.axis)]);
      return;
    case "broadcastTo":
      ctx.addNode("Expand", name, [...args, ctx.dims(op.shape, aux("shape"))], [out]);
      return;
    default: {
      // Only reachable for a graph not built by GraphBuilder (say, deserialized from elsewhere).
      const unknown: never = op;
      throw new InvalidArgumentError("graph", `node %${id} has an unknown op kind '${String((unknown as { kind: unknown }).kind)}'`);
    }
  }
}
