// Which backend runs the core's graphs for logits and train: "core", onnxruntime on the CPU (the
// default), or "webgpu", the GPU; the names of generate's, chat's and serve's --backend, which
// also has "onnx" for an exported onnx/model.onnx. Dawn is imported only when asked for, since
// loading it starts a GPU instance.
import type { Backend } from "@gemma-ts/core";
import { OnnxBackend } from "@gemma-ts/core/node";
import { Option } from "commander";

export const GRAPH_BACKENDS = ["core", "webgpu"] as const;
export type GraphBackendName = (typeof GRAPH_BACKENDS)[number];

export function graphBackendOption(): Option {
  return new Option("--backend <name>", "where the graphs run: core (onnxruntime on the CPU; --threads applies) or webgpu (the GPU, through Dawn)").choices(GRAPH_BACKENDS);
}

export async function graphBackend(name: GraphBackendName, threads: number | null | undefined): Promise<Backend> {
  if (name === "webgpu") return (await import("@gemma-ts/webgpu/node")).sharedNodeBackend();
  return new OnnxBackend(threads === null || threads === undefined ? {} : { intraOpThreads: threads });
}
