// How a graph runs. A Backend compiles a Graph once (per shape signature) into an Executable;
// tensors go in and come out by the graph's input and output names. The pure-JS reference
// backend is the oracle; onnxruntime-node (./node) and WebGPU are the fast ones.
import type { Graph } from "../graph/graph.js";
import type { HostTensor } from "../tensor/host-tensor.js";

export type TensorMap = Readonly<Record<string, HostTensor>>;

export interface Executable {
  run(inputs: TensorMap): Promise<Record<string, HostTensor>>;
  /** Frees native resources (sessions, buffers). The executable is unusable afterwards. */
  dispose(): Promise<void>;
}

export interface Backend {
  readonly name: string;
  compile(graph: Graph): Promise<Executable>;
}
