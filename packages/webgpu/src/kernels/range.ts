// range: out[i] = start + i, int32 (the IR's int64 on the GPU).
import type { CommandRecorder } from "../command-recorder.js";
import { i32Bits, itemKernel, type Kernel, storageBindings, workgroupsFor } from "../kernel.js";

const KERNEL: Kernel = {
  key: "range",
  wgsl: () => itemKernel(storageBindings([["out", "i32", "read_write"]]), "  out[info[2] + i] = bitcast<i32>(info[1]) + i32(i);"),
};

export function range(recorder: CommandRecorder, out: GPUBuffer, outOffset: number, start: number, count: number): void {
  recorder.launch({ kernel: KERNEL, buffers: [out], meta: [count, i32Bits(start), outOffset], workgroups: workgroupsFor(count) });
}
