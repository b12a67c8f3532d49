// The kernels that read or write through integer indices (ops.ts): gather and scatterAdd on the
// rows of a table, takeAlong and scatterAlong on the last axis. Every index goes through
// checked_index_. The scatters run one thread per column (scatterAdd) or per row (scatterAlong),
// each walking its updates in order, so duplicate indices sum without atomics and
// deterministically, in the reference backend's order.
//   gather:       out[p, j] = data[indices[p], j]
//   scatterAdd:   out[indices[p], j] += updates[p, j]        (out zeroed first)
//   takeAlong:    out[r, q] = data[r, indices[r, q]]
//   scatterAlong: out[r, indices[r, q]] += updates[r, q]     (out zeroed first)
import type { CommandRecorder } from "../command-recorder.js";
import type { WgslScalar } from "../element-storage.js";
import { itemKernel, type Kernel, storageBindings, workgroupsFor } from "../kernel.js";
import { CHECKED_INDEX, ERROR_BINDING_TYPE } from "./checked-index.wgsl.js";

export interface IndexedOperand {
  readonly buffer: GPUBuffer;
  readonly offset: number;
}

interface IndexedLaunch {
  readonly node: number;
  readonly type: WgslScalar;
  readonly data: IndexedOperand;
  readonly indices: IndexedOperand;
  readonly out: IndexedOperand;
  readonly errors: GPUBuffer;
}

// info: threads, node, limit, rowSize, dataOffset, indicesOffset, outOffset, then the kernel's own word, if any
function launch(recorder: CommandRecorder, kernel: Kernel, threads: number, limit: number, rowSize: number, l: IndexedLaunch, extra: readonly number[] = []): void {
  recorder.launch({
    kernel,
    buffers: [l.data.buffer, l.indices.buffer, l.out.buffer, l.errors],
    meta: [threads, l.node, limit, rowSize, l.data.offset, l.indices.offset, l.out.offset, ...extra],
    workgroups: workgroupsFor(threads),
  });
}

const kernels = new Map<string, Kernel>();

function indexKernel(name: string, type: WgslScalar, body: string): Kernel {
  const key = `${name}/${type}`;
  let kernel = kernels.get(key);
  if (!kernel) {
    const declarations = storageBindings([
      ["data", type, "read"],
      ["indices", "i32", "read"],
      ["out", type, "read_write"],
      ["errors", ERROR_BINDING_TYPE, "read_write"],
    ]);
    const prelude = "  let node = info[1]; let limit = info[2]; let row_size = info[3]; let pd = info[4]; let pi = info[5]; let po = info[6];\n";
    kernel = { key, wgsl: () => CHECKED_INDEX + itemKernel(declarations, prelude + body) };
    kernels.set(key, kernel);
  }
  return kernel;
}

/** data [rows, rowSize], indices [count] -> out [count, rowSize]; one thread per output element. */
export function gather(recorder: CommandRecorder, l: IndexedLaunch, rows: number, rowSize: number, count: number): void {
  const kernel = indexKernel("gather", l.type, "  let p = i / row_size;\n  let j = i % row_size;\n  out[po + i] = data[pd + checked_index_(indices[pi + p], limit, node) * row_size + j];");
  launch(recorder, kernel, count * rowSize, rows, rowSize, l);
}

/**
 * gather of uint8 rows (the blocks of a quantized embedding): the bytes are packed four to a
 * word, so one thread writes one output word, gathering its four bytes.
 */
export function gatherBytes(recorder: CommandRecorder, l: IndexedLaunch, rows: number, rowSize: number, count: number): void {
  const kernel = indexKernel(
    "gatherBytes",
    "u32",
    `  var word = 0u;
  for (var b = 0u; b < 4u; b++) {
    let byte = i * 4u + b;
    if (byte >= info[7]) { break; }
    let row = checked_index_(indices[pi + byte / row_size], limit, node);
    let source = pd + row * row_size + byte % row_size;
    word = word | (((data[source / 4u] >> ((source % 4u) * 8u)) & 255u) << (b * 8u));
  }
  out[po / 4u + i] = word;`,
  );
  const bytes = count * rowSize;
  launch(recorder, kernel, Math.ceil(bytes / 4), rows, rowSize, l, [bytes]);
}

/** indices [count], updates (data) [count, rowSize] -> out [rows, rowSize], zeroed beforehand; one thread per column. */
export function scatterAdd(recorder: CommandRecorder, l: IndexedLaunch, rows: number, rowSize: number, count: number): void {
  const kernel = indexKernel(
    "scatterAdd",
    l.type,
    `  for (var p = 0u; p < info[7]; p++) {
    let row = checked_index_(indices[pi + p], limit, node);
    out[po + row * row_size + i] += data[pd + p * row_size + i];
  }`,
  );
  launch(recorder, kernel, rowSize, rows, rowSize, l, [count]);
}

/** data [rows, size], indices [rows, k] -> out [rows, k]; one thread per output element. */
export function takeAlong(recorder: CommandRecorder, l: IndexedLaunch, rows: number, size: number, k: number): void {
  const kernel = indexKernel("takeAlong", l.type, "  let row = i / row_size;\n  out[po + i] = data[pd + row * limit + checked_index_(indices[pi + i], limit, node)];");
  launch(recorder, kernel, rows * k, size, k, l);
}

/** indices [rows, k], updates (data) [rows, k] -> out [rows, size], zeroed beforehand; one thread per row. */
export function scatterAlong(recorder: CommandRecorder, l: IndexedLaunch, rows: number, size: number, k: number): void {
  const kernel = indexKernel(
    "scatterAlong",
    l.type,
    `  for (var q = 0u; q < row_size; q++) {
    let column = checked_index_(indices[pi + i * row_size + q], limit, node);
    out[po + i * limit + column] += data[pd + i * row_size + q];
  }`,
  );
  launch(recorder, kernel, rows, size, k, l);
}
