// What every executable of one backend shares: the device, the buffer pool, compiled pipelines
// (one per kernel source, compiled on first use) and the limits kernels are sized by.
import { BackendError, type HostTensor, sizeOf } from "@gemma-ts/core";
import { storageBytes, toGpuElements } from "./element-storage.js";
import { BufferPool } from "./gpu-storage.js";
import type { RunValue } from "./run-values.js";
import type { Kernel } from "./kernel.js";

export class GpuContext {
  readonly pool: BufferPool;
  readonly maxBindingBytes: number;
  readonly metaAlignment: number;
  private readonly pipelines = new Map<string, Promise<GPUComputePipeline>>();

  constructor(readonly device: GPUDevice) {
    this.maxBindingBytes = device.limits.maxStorageBufferBindingSize;
    this.metaAlignment = device.limits.minStorageBufferOffsetAlignment;
    this.pool = new BufferPool(device, this.maxBindingBytes);
  }

  /** A host tensor copied into pooled storage (a run's host input). */
  uploadToPool(tensor: HostTensor, what: string): RunValue {
    const elements = toGpuElements(tensor, what);
    const storage = this.pool.acquire(storageBytes(tensor.dtype, sizeOf(tensor.shape)), what);
    if (elements.byteLength > 0) this.device.queue.writeBuffer(storage.buffer, 0, elements.buffer, elements.byteOffset, elements.byteLength);
    return { storage, offset: 0, shape: tensor.shape, dtype: tensor.dtype };
  }

  pipeline(kernel: Kernel): Promise<GPUComputePipeline> {
    let pipeline = this.pipelines.get(kernel.key);
    if (pipeline === undefined) {
      const code = kernel.wgsl();
      const module = this.device.createShaderModule({ code, label: kernel.key });
      pipeline = this.device.createComputePipelineAsync({ layout: "auto", compute: { module, entryPoint: "main" }, label: kernel.key }).catch(async (error: unknown) => {
        const info = await module.getCompilationInfo();
        const messages = info.messages.map((m) => `${m.lineNum}:${m.linePos} ${m.message}`).join("; ");
        throw new BackendError("webgpu", `compile kernel '${kernel.key}'`, messages || error);
      });
      this.pipelines.set(kernel.key, pipeline);
    }
    return pipeline;
  }
}
