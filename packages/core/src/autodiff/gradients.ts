// One reverse-mode rule per IR op: given a node's (replayed) inputs, its output and the gradient
// of the loss with respect to that output, emit IR for the gradient of each input that needs one.
// The rules follow the textbook derivatives and, at the edges (ties, pow at 0, abs at 0), PyTorch's
// derivatives.yaml. Broadcasting is undone once, in `sumToShape`.
import type { SymbolicTensor } from "../graph/builder.js";
import type { BinaryOpName, Op, OpKind, UnaryOpName } from "../graph/ops.js";
import type { DType } from "../tensor/dtype.js";
import { dequantizeWeight } from "../nn/quantized.js";
import { dimAdd, dimEquals, dimProduct, dimSub, type Dim, type Dims } from "../graph/dims.js";

export interface GradientContext<O extends Op = Op> {
  readonly op: O;
  /** The node's inputs in the derived graph. */
  readonly inputs: readonly SymbolicTensor[];
  /** The node's own value, reused by rules whose derivative is cheapest from it (exp, tanh, softmax). */
  readonly output: SymbolicTensor;
  /** d loss / d output, shaped like the output. */
  readonly grad: SymbolicTensor;
  /** Which inputs lie on a path from a `wrt` input; the others get no IR at all. */
  readonly needs: readonly boolean[];
}

/** d loss / d input for each input, shaped like it; undefined where not needed or not defined. */
export type InputGradients = readonly (SymbolicTensor | undefined)[];

export type DifferentiableKind = Exclude<OpKind, "input" | "constant">;

type Rule<K extends DifferentiableKind> = (context: GradientContext<Extract<Op, { kind: K }>>) => InputGradients;

export function isFloatDType(dtype: DType): boolean {
  return dtype === "float32" || dtype === "float16" || dtype === "bfloat16";
}

const sameShape = (a: Dims, b: Dims): boolean => a.length === b.length && a.every((d, i) => dimEquals(d, b[i]!));

/**
 * The gradient of a value that was broadcast from `shape`: sum over the axes broadcasting added
 * (leading ones) or stretched (size 1 in `shape`), then reshape to `shape`.
 * [broadcast of shape] -> [shape]
 */
export function sumToShape(tensor: SymbolicTensor, shape: Dims): SymbolicTensor {
  if (sameShape(tensor.shape, shape)) return tensor;
  const leading = tensor.rank - shape.length;
  const axes: number[] = [];
  for (let axis = 0; axis < tensor.rank; axis++) {
    if (axis < leading || (shape[axis - leading] === 1 && tensor.shape[axis] !== 1)) axes.push(axis);
  }
  // Never an empty axis list: ONNX reads that as "reduce everything".
  const summed = axes.length > 0 ? tensor.sum(axes, true) : tensor;
  return summed.reshape(shape);
}

const zero = (like: SymbolicTensor): SymbolicTensor => like.builder.scalar(0, like.dtype);

/** Zeros of `shape`, as a broadcast scalar rather than a constant the size of the tensor. */
function zeros(like: SymbolicTensor, shape: Dims): SymbolicTensor {
  return zero(like).broadcastTo(shape);
}

/** Swaps the last two axes: [..., M, K] -> [..., K, M]. */
function transposeLast(tensor: SymbolicTensor): SymbolicTensor {
  const perm = tensor.shape.map((_, axis) => axis);
  perm[tensor.rank - 2] = tensor.rank - 1;
  perm[tensor.rank - 1] = tensor.rank - 2;
  return tensor.transpose(perm);
}

/**
 * db of y = a b where b is broadcast along the batch axes next to its matrix axes (a linear
 * layer's weight [K, N] under activations [B, T, K]; one key head [B, K, 1, h, S] under its G
 * query heads): those axes fold into the rows of a and g, so db is ONE product summing over
 * B * T rows instead of a [B, K, N] batch of products over T rows reduced afterwards, which
 * writes B copies of the weight's gradient and runs the matrix kernel on a short inner axis.
 * undefined where b is not broadcast so (the plain rule applies).
 */
function foldedRightGradient(a: SymbolicTensor, b: SymbolicTensor, g: SymbolicTensor): SymbolicTensor | undefined {
  const batch = g.shape.slice(0, -2);
  const lead = batch.length - (b.rank - 2);
  let start = batch.length;
  while (start > 0 && (start - 1 < lead || b.shape[start - 1 - lead] === 1)) start--;
  if (start === batch.length || a.rank !== g.rank) return undefined;
  // a's own rows must be whole on the folded axes (not broadcast there itself).
  if (batch.slice(start).some((d, i) => !dimEquals(d, a.shape[start + i]!))) return undefined;
  const [K, N] = [a.shape[a.rank - 1]!, g.shape[g.rank - 1]!];
  const rows = dimProduct([...batch.slice(start), g.shape[g.rank - 2]!]);
  const foldedA = a.reshape([...a.shape.slice(0, start), rows, K]);
  const foldedG = g.reshape([...batch.slice(0, start), rows, N]);
  const product = transposeLast(foldedA).matmul(foldedG);
  // b's shape without the folded axes (absent or 1), which the product lacks.
  const unfolded = [...b.shape.slice(0, Math.max(0, start - lead)), K, N];
  return sumToShape(product, unfolded).reshape(b.shape);
}

// Unary ops: (x, y = f(x), g) -> g * f'(x), all [shape of x].
const UNARY_RULES: Readonly<Record<UnaryOpName, (x: SymbolicTensor, y: SymbolicTensor, g: SymbolicTensor) => SymbolicTensor>> = {
  neg: (_x, _y, g) => g.neg(),
  exp: (_x, y, g) => g.mul(y),
  log: (x, _y, g) => g.div(x),
  tanh: (_x, y, g) => g.mul(y.mul(y).neg().add(1)),
  erf: (x, _y, g) => g.mul(x.mul(x).neg().exp().mul(2 / Math.sqrt(Math.PI))),
  sqrt: (_x, y, g) => g.mul(0.5).div(y),
  // y = x^(-1/2), so dy/dx = -x^(-3/2) / 2 = -y^3 / 2.
  rsqrt: (_x, y, g) => g.mul(y.mul(y).mul(y).mul(-0.5)),
  // sign(x) * g, with 0 at x = 0 as in PyTorch.
  abs: (x, _y, g) => g.builder.where(x.greater(0), g, g.builder.where(x.less(0), g.neg(), zero(g))),
  cos: (x, _y, g) => g.mul(x.sin().neg()),
  sin: (x, _y, g) => g.mul(x.cos()),
};

/**
 * Binary ops: (a, b, y, g) -> [d/da, d/db] in the broadcast output shape; `sumToShape` then
 * undoes the broadcasting. Only the needed sides are built.
 */
type BinaryRule = (a: SymbolicTensor, b: SymbolicTensor, y: SymbolicTensor, g: SymbolicTensor, needs: readonly boolean[]) => InputGradients;

const when = (need: boolean | undefined, build: () => SymbolicTensor): SymbolicTensor | undefined => (need ? build() : undefined);

/**
 * max/min: the gradient goes to the larger (smaller) operand; on a tie it is split evenly, half
 * each, as PyTorch's maximum/minimum do.
 */
function chooserRule(wins: (a: SymbolicTensor, b: SymbolicTensor) => SymbolicTensor): BinaryRule {
  return (a, b, _y, g, needs) => {
    const w = g.builder;
    const tie = a.equal(b);
    const share = (winner: SymbolicTensor) => w.where(winner, g, w.where(tie, g.mul(0.5), zero(g)));
    return [when(needs[0], () => share(wins(a, b))), when(needs[1], () => share(wins(b, a)))];
  };
}

const BINARY_RULES: Readonly<Record<BinaryOpName, BinaryRule>> = {
  add: (_a, _b, _y, g, needs) => [when(needs[0], () => g), when(needs[1], () => g)],
  sub: (_a, _b, _y, g, needs) => [when(needs[0], () => g), when(needs[1], () => g.neg())],
  mul: (a, b, _y, g, needs) => [when(needs[0], () => g.mul(b)), when(needs[1], () => g.mul(a))],
  // d(a/b)/db = -a/b^2 = -y/b
  div: (_a, b, y, g, needs) => [when(needs[0], () => g.div(b)), when(needs[1], () => g.mul(y).div(b).neg())],
  // d/da = b a^(b-1), d/db = a^b log a. Masked to 0 where PyTorch masks them (b = 0, a = 0), which
  // keeps x^0 and 0^b from turning 0 * inf into NaN.
  pow: (a, b, y, g, needs) => {
    const w = g.builder;
    return [
      when(needs[0], () => w.where(b.equal(0), zero(g), g.mul(b).mul(a.pow(b.sub(1))))),
      when(needs[1], () => w.where(a.equal(0), zero(g), g.mul(y).mul(a.log()))),
    ];
  },
  max: chooserRule((a, b) => a.greater(b)),
  min: chooserRule((a, b) => a.less(b)),
};

export const GRADIENT_RULES: { readonly [K in DifferentiableKind]: Rule<K> } = {
  // No inputs, and integer values: nothing to differentiate.
  range: () => [],

  unary: ({ op, inputs: [x], output, grad }) => [UNARY_RULES[op.op](x!, output, grad)],

  binary: ({ op, inputs: [a, b], output, grad, needs }) => {
    const [ga, gb] = BINARY_RULES[op.op](a!, b!, output, grad, needs);
    return [ga && sumToShape(ga, a!.shape), gb && sumToShape(gb, b!.shape)];
  },

  // Piecewise constant with a bool result: no gradient.
  compare: () => [],

  // The chosen branch gets the gradient, the other zero there; the condition none.
  where: ({ inputs: [condition, whenTrue, whenFalse], grad, needs }) => {
    const w = grad.builder;
    return [
      undefined,
      when(needs[1], () => sumToShape(w.where(condition!, grad, zero(grad)), whenTrue!.shape)),
      when(needs[2], () => sumToShape(w.where(condition!, zero(grad), grad), whenFalse!.shape)),
    ];
  },

  // y = x W^T with W quantized: dx = g W, W dequantized with plain ops; the packed blocks and
  // their scales are fixed data, not trained (QLoRA-style adapters train beside them).
  matmulNBits: ({ op, inputs: [x, blocks, scales], grad, needs }) => [
    when(needs[0], () => sumToShape(grad.matmul(dequantizeWeight({ bits: op.bits, blocks: blocks!, scales: scales! })), x!.shape)),
    undefined,
    undefined,
  ],

  // Float to float: cast the gradient back. From int or bool there is nothing to differentiate.
  cast: ({ inputs: [x], grad }) => [isFloatDType(x!.dtype) ? grad.cast(x!.dtype) : undefined],

  // y = a b: da = g b^T, db = a^T g, each summed over the batch axes its operand was broadcast along.
  matmul: ({ inputs: [a, b], grad, needs }) => [
    when(needs[0], () => sumToShape(grad.matmul(transposeLast(b!)), a!.shape)),
    when(needs[1], () => foldedRightGradient(a!, b!, grad) ?? sumToShape(transposeLast(a!).matmul(grad), b!.shape)),
  ],

  reduce: ({ op, inputs: [x], output, grad }) => {
    if (op.axes.length === 0) return [grad]; // reduced nothing: the identity
    const keptShape = x!.shape.map((d, axis) => (op.axes.includes(axis) ? 1 : d));
    const g = grad.reshape(keptShape);
    if (op.op === "sum") return [g.broadcastTo(x!.shape)];
    // max: the positions equal to the maximum share the gradient evenly (ties split, as PyTorch's
    // amax and JAX's reduce_max do); the others get zero.
    const w = grad.builder;
    const isMax = x!.equal(output.reshape(keptShape));
    const count = w.where(isMax, w.scalar(1, x!.dtype), zero(x!)).sum(op.axes, true);
    return [w.where(isMax, g.div(count), zero(g))];
  },

  // dx = y * (g - sum(g * y)) along the axis.
  softmax: ({ op, output: y, grad }) => [y.mul(grad.sub(grad.mul(y).sum(op.axis, true)))],

  // Rows read once per index; the gradient adds back into the rows, duplicates summing.
  gather: ({ inputs: [data, indices], grad, needs }) => [
    when(needs[0], () => grad.builder.scatterAdd(indices!, grad, data!.shape[0]!)),
    undefined,
  ],

  // Entries read once per index; the gradient adds back along the axis, duplicates summing.
  takeAlong: ({ inputs: [data, indices], grad, needs }) => [
    when(needs[0], () => grad.builder.scatterAlong(indices!, grad, data!.shape[data!.rank - 1]!)),
    undefined,
  ],

  // The transpose of takeAlong: each update reads its entry of the gradient.
  scatterAlong: ({ inputs: [indices], grad, needs }) => [undefined, when(needs[1], () => grad.takeAlong(indices!))],

  // The transpose of gather: each update row reads its row of the gradient.
  scatterAdd: ({ inputs: [indices], grad, needs }) => [undefined, when(needs[1], () => grad.gather(indices!))],

  reshape: ({ inputs: [x], grad }) => [grad.reshape(x!.shape)],

  transpose: ({ op, grad }) => {
    const inverse = new Array<number>(op.perm.length);
    op.perm.forEach((axis, i) => (inverse[axis] = i));
    return [grad.transpose(inverse)];
  },

  // The slice's gradient padded back with zeros on each cut axis (concat, to stay in the IR).
  slice: ({ op, inputs: [x], grad }) => {
    let padded = grad;
    op.axes.forEach((axis, i) => {
      const before = op.starts[i]!;
      const after = dimSub(x!.shape[axis]!, op.ends[i]!);
      const band = (size: Dim) => zeros(grad, padded.shape.map((d, a) => (a === axis ? size : d)));
      const parts = [...(before !== 0 ? [band(before)] : []), padded, ...(after !== 0 ? [band(after)] : [])];
      if (parts.length > 1) padded = grad.builder.concat(parts, axis);
    });
    return [padded];
  },

  // Each part's gradient is its slice of the output gradient.
  concat: ({ op, inputs, grad, needs }) => {
    let offset: Dim = 0;
    return inputs.map((part, i) => {
      const start = offset;
      offset = dimAdd(offset, part.shape[op.axis]!);
      const end = offset;
      return when(needs[i], () => grad.slice(op.axis, start, end));
    });
  },

  broadcastTo: ({ inputs: [x], grad }) => [sumToShape(grad, x!.shape)],
};
