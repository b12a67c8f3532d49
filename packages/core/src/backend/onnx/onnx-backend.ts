// The CPU backend: a whole IR graph compiled to one ONNX model and run by one onnxruntime-node
// session, since ORT's kernels reach ~90% of a core's peak and a run costs ~6 us fixed
// (docs/compute-path.md). Sessions are cached per graph (graph-key.ts) and
// reference-counted by the executables that share them.
import { InferenceSession, type Tensor } from "onnxruntime-node";
import type { Backend, BackendTensor, Executable, TensorMap } from "../backend.js";
import { bindDims } from "../../graph/dims.js";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BackendError, CoreError, InvalidArgumentError } from "../../errors.js";
import type { Graph } from "../../graph/graph.js";
import { HostTensor, hostView, type Shape } from "../../tensor/host-tensor.js";
import { graphToOnnx, graphToOnnxWithExternalData } from "./emit.js";
import { writeExternalData } from "./external-data.js";
import { graphKey } from "./graph-key.js";
import { checkOrtDType, fromOrtTensor, ORT_BACKEND_NAME, OrtBackendTensor, toOrtTensor, type TensorSpec } from "./ort-tensor.js";

export interface OnnxBackendOptions {
  /** Threads one kernel may use. Default: onnxruntime's choice (the physical cores). */
  intraOpThreads?: number;
  /** Threads running independent nodes at once. Default 1: the nodes of our graphs run one after another. */
  interOpThreads?: number;
  /** Default "all": constant folding, fusions and MatMul weight pre-packing. */
  graphOptimizationLevel?: "disabled" | "basic" | "extended" | "all";
  /** Default-domain ONNX opset of the emitted models, 17 to 21. Default 17. */
  opset?: number;
  /** Graphs with more bytes of constants than this load through an external data file. Default 256 MiB. */
  externalDataMinBytes?: number;
}

interface CacheEntry {
  readonly session: Promise<InferenceSession>;
  /** Live executables sharing the session; it is released when the last one is disposed. */
  refs: number;
  released: boolean;
}

export class OnnxBackend implements Backend {
  readonly name = ORT_BACKEND_NAME;
  private readonly sessions = new Map<string, CacheEntry>();

  constructor(private readonly options: OnnxBackendOptions = {}) {}

  /** Sessions now held (one per distinct graph with a live executable). */
  get cachedSessions(): number {
    return this.sessions.size;
  }

  async compile(graph: Graph): Promise<OnnxExecutable> {
    const inputs = [...graph.inputs].map(([name, id]) => specOf(graph, name, id, "input"));
    const outputs = [...graph.outputs].map(([name, id]) => specOf(graph, name, id, "output"));
    const key = graphKey(graph);
    let entry = this.sessions.get(key);
    if (entry === undefined) {
      const session = this.createSession(withOnnxOutputNames(graph, outputs)).catch((error: unknown) => {
        throw error instanceof CoreError ? error : new BackendError(ORT_BACKEND_NAME, "compile the graph", error);
      });
      entry = { session, refs: 0, released: false };
      this.sessions.set(key, entry);
    }
    entry.refs++;
    let session: InferenceSession;
    try {
      session = await entry.session;
    } catch (error) {
      // A failed compile leaves nothing cached, so a later call tries afresh.
      if (this.sessions.get(key) === entry) this.sessions.delete(key);
      throw error;
    }
    const held = entry;
    const release = async (): Promise<void> => {
      if (--held.refs > 0 || held.released) return;
      held.released = true;
      if (this.sessions.get(key) === held) this.sessions.delete(key);
      await session.release();
    };
    return new OnnxExecutable(session, inputs, outputs, () => held.released, release);
  }

  /**
   * Small graphs go to onnxruntime as one protobuf in memory. Graphs holding more than
   * EXTERNAL_DATA_MIN_GRAPH_BYTES of constants (quantized or baked-in weights) go through a temp
   * folder with the large tensors in an external data file, as ONNX allows: no 2 GiB protobuf
   * limit, and no protobuf copy of the weights in memory while onnxruntime loads them.
   */
  private async createSession(graph: Graph): Promise<InferenceSession> {
    const opset = this.options.opset ?? 17;
    if (constantBytes(graph) <= (this.options.externalDataMinBytes ?? EXTERNAL_DATA_MIN_GRAPH_BYTES)) {
      return InferenceSession.create(graphToOnnx(graph, { opset, constantsAsInitializers: true }), this.sessionOptions());
    }
    const minBytes = Math.max(1024, Math.min(EXTERNAL_DATA_MIN_TENSOR_BYTES, this.options.externalDataMinBytes ?? EXTERNAL_DATA_MIN_TENSOR_BYTES));
    const { model, external } = graphToOnnxWithExternalData(graph, { minBytes, location: "weights.bin" }, { opset });
    const dir = await mkdtemp(join(tmpdir(), "gemma-ts-onnx-"));
    try {
      await writeFile(join(dir, "model.onnx"), model);
      await writeExternalData(join(dir, "weights.bin"), external);
      return await InferenceSession.create(join(dir, "model.onnx"), this.sessionOptions());
    } finally {
      // A leftover temp folder beats a leaked session (Windows refuses to delete a mapped file).
      await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    }
  }

  /** Wraps the host tensor for onnxruntime once (no copy: onnxruntime reads the same memory). */
  upload(tensor: HostTensor): OrtBackendTensor {
    return new OrtBackendTensor(tensor);
  }

  view(tensor: BackendTensor, offset: number, shape: Shape): OrtBackendTensor {
    return new OrtBackendTensor(hostView(ownTensor(tensor).hostTensor, offset, shape));
  }

  async read(tensor: BackendTensor): Promise<HostTensor> {
    const host = ownTensor(tensor).hostTensor;
    return new HostTensor(host.dtype, host.shape, host.data.slice());
  }

  free(tensor: BackendTensor): void {
    ownTensor(tensor).free();
  }

  /** Releases every cached session; executables compiled so far stop working. */
  async dispose(): Promise<void> {
    const entries = [...this.sessions.values()];
    this.sessions.clear();
    for (const entry of entries) {
      entry.released = true;
      await entry.session.then((session) => session.release(), () => undefined);
    }
  }

  private sessionOptions(): InferenceSession.SessionOptions {
    const { intraOpThreads, interOpThreads, graphOptimizationLevel } = this.options;
    return {
      executionProviders: ["cpu"],
      graphOptimizationLevel: graphOptimizationLevel ?? "all",
      executionMode: "sequential",
      interOpNumThreads: interOpThreads ?? 1,
      ...(intraOpThreads === undefined ? {} : { intraOpNumThreads: intraOpThreads }),
    };
  }
}

export class OnnxExecutable implements Executable {
  private disposed = false;

  constructor(
    /** The onnxruntime session, shared by every executable of the same graph. */
    readonly session: InferenceSession,
    private readonly inputs: readonly TensorSpec[],
    private readonly outputs: readonly OutputSpec[],
    private readonly sessionReleased: () => boolean,
    private readonly release: () => Promise<void>,
  ) {}

  async run(values: TensorMap): Promise<Record<string, HostTensor>> {
    if (this.disposed || this.sessionReleased()) throw new InvalidArgumentError("executable", "has been disposed");
    const feeds: Record<string, Tensor> = {};
    for (const spec of this.inputs) feeds[spec.name] = toOrtTensor(spec, values[spec.name]);
    for (const name of Object.keys(values)) {
      if (!this.inputs.some((spec) => spec.name === name)) {
        throw new InvalidArgumentError(name, `not an input of the graph (inputs: ${this.inputs.map((s) => s.name).join(", ") || "none"})`);
      }
    }
    // onnxruntime checks shapes too, but names neither the input nor the symbolic dim at fault.
    bindDims(
      this.inputs.map((spec) => [spec.name, spec.shape, values[spec.name]!.shape] as const),
      (name, expected, given) => new InvalidArgumentError(name, `expected shape ${expected}, got ${given}`),
    );
    let results: InferenceSession.ReturnType;
    try {
      results = await this.session.run(feeds);
    } catch (error) {
      // Kernels fail at run time on input values the shapes cannot rule out (an id past the
      // vocabulary in Gather or ScatterND); onnxruntime's message names the node.
      throw new BackendError(ORT_BACKEND_NAME, "run the graph", error);
    }
    const out: Record<string, HostTensor> = {};
    for (const spec of this.outputs) out[spec.name] = fromOrtTensor(spec, results[spec.onnxName]);
    return out;
  }

  async runResident(values: TensorMap): Promise<Record<string, BackendTensor>> {
    const outputs = await this.run(values);
    return Object.fromEntries(Object.entries(outputs).map(([name, tensor]) => [name, new OrtBackendTensor(tensor)]));
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.release();
  }
}

interface OutputSpec extends TensorSpec {
  /** The name in the ONNX model, which differs where the IR output reuses an input's name. */
  readonly onnxName: string;
}

function specOf(graph: Graph, name: string, id: number, role: "input" | "output"): OutputSpec {
  const node = graph.nodes[id];
  if (node === undefined) throw new InvalidArgumentError(name, `${role} refers to a missing node %${id}`);
  checkOrtDType(node.dtype, `${role} '${name}'`);
  let onnxName = name;
  // An update graph maps input `w` to output `w`; ONNX needs distinct value names, so the output
  // gets a fresh one, used only between this executable and its session.
  if (role === "output" && graph.inputs.has(name) && graph.inputs.get(name) !== id) {
    do {
      onnxName += ".out";
    } while (graph.inputs.has(onnxName) || graph.outputs.has(onnxName));
  }
  return { name, dtype: node.dtype, shape: node.shape, onnxName };
}

/** Above this many bytes of constants a graph's weights go to onnxruntime as external data. */
export const EXTERNAL_DATA_MIN_GRAPH_BYTES = 256 * 2 ** 20;
const EXTERNAL_DATA_MIN_TENSOR_BYTES = 2 ** 20;

function constantBytes(graph: Graph): number {
  let total = 0;
  for (const node of graph.nodes) if (node.op.kind === "constant") total += node.op.value.data.byteLength;
  return total;
}

function ownTensor(tensor: BackendTensor): OrtBackendTensor {
  if (!(tensor instanceof OrtBackendTensor)) throw new InvalidArgumentError("tensor", `belongs to the ${tensor.backend} backend, not onnxruntime-node`);
  return tensor;
}

function withOnnxOutputNames(graph: Graph, outputs: readonly OutputSpec[]): Graph {
  if (outputs.every((spec) => spec.onnxName === spec.name)) return graph;
  return { ...graph, outputs: new Map(outputs.map((spec) => [spec.onnxName, graph.outputs.get(spec.name)!])) };
}
