// The pure-JS reference backend: slow and obviously correct, the oracle every fast backend is
// tested against. Each op is computed in float64 and rounded to the graph's dtype, following the
// ONNX operator the fast backend lowers it to. `runFloat64` skips the rounding (and takes float64
// inputs) so finite-difference gradient checks can run in float64.
import { InvalidArgumentError, ShapeMismatchError } from "../../errors.js";
import type { Graph } from "../../graph/graph.js";
import type { DType } from "../../tensor/dtype.js";
import { HostTensor, hostView, sizeOf, type Shape } from "../../tensor/host-tensor.js";
import { bindDims, type DimBindings, type Dims } from "../../graph/dims.js";
import type { Backend, BackendTensor, Executable, TensorMap } from "../backend.js";
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

  upload(tensor: HostTensor): BackendTensor {
    return new ReferenceBackendTensor(tensor);
  }

  view(tensor: BackendTensor, offset: number, shape: Shape): BackendTensor {
    return new ReferenceBackendTensor(hostView(ReferenceBackendTensor.unwrap(tensor), offset, shape));
  }

  async read(tensor: BackendTensor): Promise<HostTensor> {
    const host = ReferenceBackendTensor.unwrap(tensor);
    return new HostTensor(host.dtype, host.shape, host.data.slice());
  }

  free(tensor: BackendTensor): void {
    ReferenceBackendTensor.unwrap(tensor);
    (tensor as ReferenceBackendTensor).freed = true;
  }
}

/** The reference backend's resident tensor: the host tensor itself. */
class ReferenceBackendTensor implements BackendTensor {
  readonly backend = "reference";
  freed = false;

  constructor(readonly host: HostTensor) {}

  get dtype(): DType {
    return this.host.dtype;
  }

  get shape(): Shape {
    return this.host.shape;
  }

  static unwrap(tensor: BackendTensor): HostTensor {
    if (!(tensor instanceof ReferenceBackendTensor)) throw new InvalidArgumentError("tensor", `belongs to the ${tensor.backend} backend, not the reference one`);
    if (tensor.freed) throw new InvalidArgumentError("tensor", "was freed");
    return tensor.host;
  }
}

export class ReferenceExecutable implements Executable {
  private disposed = false;

  constructor(
    private readonly plan: Plan,
    private readonly precision: Precision,
  ) {}

  async run(inputs: TensorMap): Promise<Record<string, HostTensor>> {
    const hostInputs = Object.fromEntries(Object.entries(inputs).map(([name, value]) => [name, value instanceof HostTensor ? value : ReferenceBackendTensor.unwrap(value)]));
    const [values, dims] = this.checkInputs(hostInputs);
    const outputs = interpret(this.plan, values, this.precision, dims);
    return Object.fromEntries([...outputs].map(([name, value]) => [name, toHost(value)]));
  }

  async runResident(inputs: TensorMap): Promise<Record<string, BackendTensor>> {
    const outputs = await this.run(inputs);
    return Object.fromEntries(Object.entries(outputs).map(([name, tensor]) => [name, new ReferenceBackendTensor(tensor)]));
  }

  /** Runs entirely in float64 and returns the unrounded float64 outputs. */
  runFloat64(inputs: Float64Inputs): Float64Outputs {
    const [values, dims] = this.checkInputs(inputs);
    const outputs = interpret(this.plan, values, "float64", dims);
    return Object.fromEntries(outputs);
  }

  async dispose(): Promise<void> {
    this.disposed = true;
  }

  /** Every graph input present with its declared dtype and shape, and nothing else; binds the symbolic dims. */
  private checkInputs(given: Float64Inputs): [Map<string, Float64Array>, DimBindings] {
    if (this.disposed) throw new InvalidArgumentError("executable", "run after dispose()");
    const graph = this.plan.graph;
    for (const name of Object.keys(given)) {
      // Strict like onnxruntime: an unknown name is usually a typo that would otherwise pass silently.
      if (!graph.inputs.has(name)) {
        throw new InvalidArgumentError(name, `is not an input of the graph (its inputs: ${[...graph.inputs.keys()].join(", ")})`);
      }
    }
    const out = new Map<string, Float64Array>();
    const shapes: [string, Dims, Shape][] = [];
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
      shapes.push([name, node.shape, tensor.shape]);
      if (tensor instanceof HostTensor) {
        out.set(name, fromHost(tensor));
      } else {
        if (tensor.data.length !== sizeOf(tensor.shape)) {
          throw new ShapeMismatchError(`input '${name}'`, `${tensor.data.length} values for shape [${tensor.shape.join(", ")}]`);
        }
        out.set(name, tensor.data);
      }
    }
    const dims = bindDims(shapes);
    return [out, dims];
  }
}

/** Runs `graph` once in float64 (see ReferenceExecutable.runFloat64), for gradient checks. */
export function runFloat64(graph: Graph, inputs: Float64Inputs): Float64Outputs {
  return new ReferenceExecutable(plan(graph), "float64").runFloat64(inputs);
}
