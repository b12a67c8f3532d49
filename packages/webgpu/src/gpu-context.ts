// What every executable of one backend shares: the device, the buffer pool, compiled pipelines
// (one per kernel source, compiled on first use) and the limits kernels are sized by.
import { BackendError, type HostTensor, sizeOf } from "@gemma-ts/core";
import { storageBytes, toGpuElements } from "./element-storage.js";
import { STORAGE_USAGE } from "./gpu-flags.js";
import { BufferPool, checkBindingSize, GpuStorage, sizeClass } from "./gpu-storage.js";
import type { RunValue } from "./run-values.js";
import type { Kernel } from "./kernel.js";

export class GpuContext {
  readonly pool: BufferPool;
  readonly maxBindingBytes: number;
  readonly metaAlignment: number;
  private meta: GPUBuffer | undefined;
  private readonly pipelines = new Map<string, GPUComputePipeline>();

  constructor(readonly device: GPUDevice) {
    this.maxBindingBytes = device.limits.maxStorageBufferBindingSize;
    this.metaAlignment = device.limits.minStorageBufferOffsetAlignment;
    this.pool = new BufferPool(device, this.maxBindingBytes);
  }

  /** The buffer of the kernels' metadata words, grown to at least `bytes`. */
  metaBuffer(bytes: number): GPUBuffer {
    if (!this.meta || this.meta.size < bytes) {
      this.meta?.destroy();
      this.meta = this.device.createBuffer({ size: sizeClass(bytes), usage: STORAGE_USAGE, label: "kernel metadata" });
    }
    return this.meta;
  }

  /** A host tensor copied into pooled storage (a run's host input). */
  uploadToPool(tensor: HostTensor, what: string): RunValue {
    const storage = this.pool.acquire(storageBytes(tensor.dtype, sizeOf(tensor.shape)), what);
    this.write(storage.buffer, tensor, what);
    return { storage, offset: 0, shape: tensor.shape, dtype: tensor.dtype };
  }

  /** A host tensor in a buffer of its own, destroyed when released (uploads, constants). */
  uploadAlone(tensor: HostTensor, what: string): GpuStorage {
    const bytes = storageBytes(tensor.dtype, sizeOf(tensor.shape));
    checkBindingSize(bytes, this.maxBindingBytes, what);
    const storage = new GpuStorage(this.device.createBuffer({ size: Math.ceil(bytes / 4) * 4, usage: STORAGE_USAGE }), this.pool, true);
    this.write(storage.buffer, tensor, what);
    return storage;
  }

  private write(buffer: GPUBuffer, tensor: HostTensor, what: string): void {
    const elements = toGpuElements(tensor, what);
    if (elements.byteLength > 0) this.device.queue.writeBuffer(buffer, 0, elements.buffer, elements.byteOffset, elements.byteLength);
  }

  /**
   * The kernel's pipeline, compiled on first use. Synchronously, one at a time: Dawn in Node
   * aborts the process when many createComputePipelineAsync calls are in flight at once.
   */
  async pipeline(kernel: Kernel): Promise<GPUComputePipeline> {
    const cached = this.pipelines.get(kernel.key);
    if (cached) return cached;
    const code = kernel.wgsl();
    this.device.pushErrorScope("validation");
    const module = this.device.createShaderModule({ code, label: kernel.key });
    const pipeline = this.device.createComputePipeline({ layout: "auto", compute: { module, entryPoint: "main" }, label: kernel.key });
    const error = await this.device.popErrorScope();
    if (error) {
      const info = await module.getCompilationInfo();
      const messages = info.messages.map((m) => `${m.lineNum}:${m.linePos} ${m.message}`).join("; ");
      throw new BackendError("webgpu", `compile kernel '${kernel.key}'`, messages || error.message);
    }
    this.pipelines.set(kernel.key, pipeline);
    return pipeline;
  }
}
