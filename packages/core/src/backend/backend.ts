// How a graph runs. A Backend compiles a Graph once into an Executable that serves every shape
// its symbolic dims allow; tensors go in and come out by the graph's input and output names.
// Tensors are either host tensors (the simple path) or backend tensors: uploaded once and kept in
// the backend's memory across runs (weights, KV caches, optimiser moments), read back on request.
// Reading is async because on a GPU it maps a buffer. The pure-JS reference backend is the
// oracle; onnxruntime-node (./node) and WebGPU are the fast ones.
import type { Graph } from "../graph/graph.js";
import type { DType } from "../tensor/dtype.js";
import type { HostTensor, Shape } from "../tensor/host-tensor.js";

/** A tensor held by a backend. Opaque: only the backend that made it can run on it or read it. */
export interface BackendTensor {
  /** The name of the backend holding it. */
  readonly backend: string;
  readonly dtype: DType;
  readonly shape: Shape;
}

export type RunInput = HostTensor | BackendTensor;
export type TensorMap = Readonly<Record<string, RunInput>>;

export interface Executable {
  /** Runs the graph; the outputs come back to the host. */
  run(inputs: TensorMap): Promise<Record<string, HostTensor>>;
  /** Runs the graph and leaves the outputs in the backend, for later runs to consume. */
  runResident(inputs: TensorMap): Promise<Record<string, BackendTensor>>;
  /** Frees native resources (sessions, buffers). The executable is unusable afterwards. */
  dispose(): Promise<void>;
}

export interface Backend {
  readonly name: string;
  compile(graph: Graph): Promise<Executable>;
  /** Places a host tensor in the backend's memory. CPU backends wrap its memory without copying, so the host tensor must not change afterwards. */
  upload(tensor: HostTensor): BackendTensor;
  /**
   * A tensor of `shape` over the elements of `tensor` from `offset` on, sharing its memory (a GPU
   * backend binds a buffer range): weights kept in one flat buffer, each weight a view of it.
   * Freeing the view does not free the tensor.
   */
  view(tensor: BackendTensor, offset: number, shape: Shape): BackendTensor;
  /** A host copy of a backend tensor. */
  read(tensor: BackendTensor): Promise<HostTensor>;
  /** Frees a backend tensor; using it afterwards is an error. */
  free(tensor: BackendTensor): void;
}
