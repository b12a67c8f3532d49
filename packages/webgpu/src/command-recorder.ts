// Records a run's launches, then encodes them in one compute pass and submits once: the run's
// metadata goes up in one buffer (each launch's words at an aligned offset), and copies (reading
// outputs back, moving outputs out of shared buffers) follow the pass in the same submit.
import { BackendError } from "@gemma-ts/core";
import type { GpuContext } from "./gpu-context.js";
import type { Launch } from "./kernel.js";

export class CommandRecorder {
  private readonly launches: Launch[] = [];
  private readonly copies: ((encoder: GPUCommandEncoder) => void)[] = [];

  constructor(private readonly gpu: GpuContext) {}

  launch(launch: Launch): void {
    if (launch.workgroups.some((n) => n === 0)) return;
    this.launches.push(launch);
  }

  get launchCount(): number {
    return this.launches.length;
  }

  copy(encode: (encoder: GPUCommandEncoder) => void): void {
    this.copies.push(encode);
  }

  async submit(): Promise<void> {
    const { device, metaAlignment } = this.gpu;
    const pipelines: GPUComputePipeline[] = [];
    for (const launch of this.launches) pipelines.push(await this.gpu.pipeline(launch.kernel));
    const alignWords = metaAlignment / 4;
    const offsets: number[] = [];
    let words = 0;
    for (const { meta } of this.launches) {
      offsets.push(words);
      words += Math.ceil(Math.max(1, meta.length) / alignWords) * alignWords;
    }
    const metaWords = new Uint32Array(Math.max(1, words));
    this.launches.forEach(({ meta }, index) => metaWords.set(meta, offsets[index]));
    // One buffer serves every run in turn: each writes it and submits without yielding in between.
    const metaBuffer = this.gpu.metaBuffer(metaWords.byteLength);
    // A validation error (a destroyed buffer, a binding past its limit) would otherwise be a
    // console message and a run that silently computes nothing.
    device.pushErrorScope("validation");
    device.queue.writeBuffer(metaBuffer, 0, metaWords);
    const encoder = device.createCommandEncoder();
    if (this.launches.length > 0) {
      const pass = encoder.beginComputePass();
      this.launches.forEach((launch, index) => {
        const pipeline = pipelines[index]!;
        const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: metaBuffer, offset: offsets[index]! * 4, size: Math.max(1, launch.meta.length) * 4 } }];
        launch.buffers.forEach((buffer, b) => entries.push({ binding: b + 1, resource: { buffer } }));
        pass.setPipeline(pipeline);
        pass.setBindGroup(0, device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries }));
        pass.dispatchWorkgroups(...launch.workgroups);
      });
      pass.end();
    }
    for (const encode of this.copies) encode(encoder);
    device.queue.submit([encoder.finish()]);
    const error = await device.popErrorScope();
    if (error) throw new BackendError("webgpu", "run a graph", error.message);
  }
}
