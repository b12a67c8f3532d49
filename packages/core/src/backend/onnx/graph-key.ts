// The session cache key of a graph: its text form plus what describeGraph leaves out, the
// constants' contents. Small constants (the scalars of `x.mul(0.5)`) are keyed by their bytes, so
// retracing a function finds its session again; large ones (weights) by the identity of their
// typed array, since hashing hundreds of MB per compile would cost more than it saves.
import { describeGraph, type Graph } from "../../graph/graph.js";

const SMALL_CONSTANT_BYTES = 256;

const arrayIds = new WeakMap<object, number>();
let nextArrayId = 0;

function arrayId(array: object): number {
  let id = arrayIds.get(array);
  if (id === undefined) {
    id = nextArrayId++;
    arrayIds.set(array, id);
  }
  return id;
}

export function graphKey(graph: Graph): string {
  const constants: string[] = [];
  for (const node of graph.nodes) {
    if (node.op.kind !== "constant") continue;
    const data = node.op.value.data;
    if (data.byteLength <= SMALL_CONSTANT_BYTES) {
      // Bytes rather than numbers: 0 and -0 (or two NaNs) are different constants.
      const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      constants.push(`%${node.id} ${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`);
    } else {
      constants.push(`%${node.id} #${arrayId(data)}`);
    }
  }
  return `${describeGraph(graph)}\nconstants: ${constants.join(", ")}`;
}
