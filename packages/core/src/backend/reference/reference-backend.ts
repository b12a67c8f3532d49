// The pure-JS reference backend: slow and obviously correct, the oracle every fast backend is
// tested against. Each op is computed in float64 and rounded to the graph's dtype, following the
// ONNX operator the fast backend lowers it to. `runFloat64` skips the rounding (and takes float64
// inputs) so finite-difference gradient checks can run in float64.
import { InvalidArgumentError, ShapeMismatchError } from "../../errors.js";
import type { Graph } from "../../graph/graph.js";
import type { DType } from "../../tensor/dtype.js";
import { HostTensor, sizeOf, type Shape } from "../../tensor/host-tensor.js";
import type { Backend, Executable, TensorMap } from "../backend.js";
import { interpret, plan, type Plan } from "./interpreter.js";
import { fromHost, isFloat, toHost, type Float64Tensor, type Precision } from "./value.js";

export interface ReferenceBackendOptions {
  /**
   * "float32" (default): every op's result is rounded to its dtype, as a float32 backend would.
   * "float64": nothing is rounded until the outputs are converted to their dtypes.
   */
  precision?: Precision;
}

/** Inputs of `runFloat64`: host tensors, or float64 values for float inputs. */
export type Float64Inputs = Readonly<Record<string, HostTensor | Float64Tensor>>;

/** Outputs of `runFloat64`: every output (ints and bools too) as float64 values. */
export type Float64Outputs = Record<string, Float64Tensor & { readonly dtype: DType }>;

export class ReferenceBackend implements Backend {
  readonly name = "reference";
  private readonly precision: Precision;

  constructor(options: ReferenceBackendOptions = {}) {
    this.precision = options.precision ?? "float32";
  }

  async compile(graph: Graph): Promise<ReferenceExecutable> {
    return new ReferenceExecutable(plan(graph), this.precision);
  }
}

export class ReferenceExecutable implements Executable {
  private disposed = false;

  constructor(
    private readonly plan: Plan,
    private readonly precision: Precision,
  ) {}

  async run(inputs: TensorMap): Promise<Record<string, HostTensor>> {
    const outputs = interpret(this.plan, this.checkInputs(inputs), this.precision);
    return Object.fromEntries([...outputs].map(([name, value]) => [name, toHost(value)]));
  }

  /** Runs entirely in float64 and returns the unrounded float64 outputs. */
  runFloat64(inputs: Float64Inputs): Float64Outputs {
    const outputs = interpret(this.plan, this.checkInputs(inputs), "float64");
    return Object.fromEntries(outputs);
  }

  async dispose(): Promise<void> {
    this.disposed = true;
  }

  /** Every graph input present with its declared dtype and shape, and nothing else. */
  private checkInputs(given: Float64Inputs): Map<string, Float64Array> {
    if (this.disposed) throw new InvalidArgumentError("executable", "run after dispose()");
    const graph = this.plan.graph;
    for (const name of Object.keys(given)) {
      // Strict like onnxruntime: an unknown name is usually a typo that would otherwise pass silently.
      if (!graph.inputs.has(name)) {
        throw new InvalidArgumentError(name, `is not an input of the graph (its inputs: ${[...graph.inputs.keys()].join(", ")})`);
      }
    }
    const out = new Map<string, Float64Array>();
    for (const [name, id] of graph.inputs) {
      const node = graph.nodes[id]?.id === id ? graph.nodes[id] : graph.nodes.find((n) => n.id === id)!;
      const tensor = given[name];
      const declared = `${node.dtype}[${node.shape.join(", ")}]`;
      if (tensor === undefined) throw new InvalidArgumentError(name, `missing; the graph declares it as ${declared}`);
      if (tensor instanceof HostTensor) {
        if (tensor.dtype !== node.dtype) throw new InvalidArgumentError(name, `expected ${node.dtype}, got ${tensor.dtype}`);
      } else if (!isFloat(node.dtype)) {
        throw new InvalidArgumentError(name, `float64 values given for a ${node.dtype} input`);
      }
      if (!sameShape(tensor.shape, node.shape)) {
        throw new ShapeMismatchError(`input '${name}'`, `expected [${node.shape.join(", ")}], got [${tensor.shape.join(", ")}]`);
      }
      if (tensor instanceof HostTensor) {
        out.set(name, fromHost(tensor));
      } else {
        if (tensor.data.length !== sizeOf(tensor.shape)) {
          throw new ShapeMismatchError(`input '${name}'`, `${tensor.data.length} values for shape [${tensor.shape.join(", ")}]`);
        }
        out.set(name, tensor.data);
      }
    }
    return out;
  }
}

/** Runs `graph` once in float64 (see ReferenceExecutable.runFloat64), for gradient checks. */
export function runFloat64(graph: Graph, inputs: Float64Inputs): Float64Outputs {
  return new ReferenceExecutable(plan(graph), "float64").runFloat64(inputs);
}

function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
