// The WebGPU backend: core's Backend interface on a GPUDevice. Tensors uploaded or left resident
// by runs stay in GPU buffers across runs and graphs (weights, KV caches, optimiser moments);
// `read` maps them back. The same code runs in browsers (navigator.gpu) and in Node (the `webgpu`
// package's Dawn, see ./node); the GPU object is passed in, never found by import side effects.
import {
  type Backend,
  type BackendTensor,
  BackendError,
  CoreError,
  type Graph,
  type HostTensor,
  InvalidArgumentError,
  type Shape,
  sizeOf,
} from "@gemma-ts/core";
import { GpuContext } from "./gpu-context.js";
import { StagedRead } from "./staged-read.js";
import { WebGpuExecutable } from "./webgpu-executable.js";
import { WebGpuTensor } from "./webgpu-tensor.js";

export interface WebGpuBackendOptions {
  /** The WebGPU entry point: navigator.gpu in a browser (the default), `nodeGpu()` in Node. */
  gpu?: GPU;
  powerPreference?: GPUPowerPreference;
  /** Fuse chains of elementwise ops into one kernel each (default true); off, every op is its own launch. */
  fuse?: boolean;
}

/** No WebGPU adapter: the browser lacks WebGPU, or Node has no Vulkan/Metal/D3D12 driver for Dawn. */
export class WebGpuUnavailableError extends CoreError {
  constructor(reason: string) {
    super("BACKEND_FAILED", `WebGPU is not available: ${reason}`);
    this.name = "WebGpuUnavailableError";
  }
}

export class WebGpuBackend implements Backend {
  readonly name = "webgpu";
  private readonly gpu: GpuContext;
  private lost: string | undefined;

  private constructor(
    /** The GPU the device came from, held for the backend's lifetime: Dawn's Node binding crashes when it is collected before its devices. */
    readonly gpuEntry: GPU,
    readonly device: GPUDevice,
    readonly adapterInfo: GPUAdapterInfo,
    private readonly fuse: boolean,
  ) {
    this.gpu = new GpuContext(device);
    void device.lost.then((info) => {
      this.lost = info.message || info.reason;
    });
  }

  /** Requests an adapter and a device with the adapter's largest buffer limits. */
  static async create(options: WebGpuBackendOptions = {}): Promise<WebGpuBackend> {
    const gpu = options.gpu ?? (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
    if (!gpu) throw new WebGpuUnavailableError("no navigator.gpu; in Node pass { gpu: nodeGpu() } from @gemma-ts/webgpu/node");
    const adapter = await gpu.requestAdapter(options.powerPreference ? { powerPreference: options.powerPreference } : {});
    if (!adapter) throw new WebGpuUnavailableError("requestAdapter() found no adapter (in Node, Dawn needs a Vulkan driver: see the package README)");
    const { limits } = adapter;
    const device = await adapter.requestDevice({
      requiredLimits: {
        maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
        maxBufferSize: limits.maxBufferSize,
        maxStorageBuffersPerShaderStage: limits.maxStorageBuffersPerShaderStage,
      },
    });
    return new WebGpuBackend(gpu, device, adapter.info, options.fuse ?? true);
  }

  async compile(graph: Graph): Promise<WebGpuExecutable> {
    this.checkAlive();
    return new WebGpuExecutable(this.gpu, graph, { upload: (tensor, what) => this.uploadAlone(tensor, what) }, { fuse: this.fuse });
  }

  upload(tensor: HostTensor): BackendTensor {
    this.checkAlive();
    return this.uploadAlone(tensor, "upload");
  }

  view(tensor: BackendTensor, offset: number, shape: Shape): BackendTensor {
    const parent = WebGpuTensor.unwrap(tensor);
    const size = sizeOf(shape);
    if (!Number.isInteger(offset) || offset < 0 || offset + size > sizeOf(parent.shape)) {
      throw new InvalidArgumentError("view", `elements [${offset}, ${offset + size}) outside a tensor of ${sizeOf(parent.shape)}`);
    }
    return new WebGpuTensor(parent.dtype, shape, parent.storage, parent.offset + offset, true);
  }

  async read(tensor: BackendTensor): Promise<HostTensor> {
    this.checkAlive();
    const source = WebGpuTensor.unwrap(tensor);
    const staged = new StagedRead(this.device, source.storage.buffer, source.dtype, source.shape, source.offset);
    try {
      const encoder = this.device.createCommandEncoder();
      staged.encode(encoder);
      this.device.queue.submit([encoder.finish()]);
      return await staged.result();
    } catch (error) {
      if (error instanceof CoreError) throw error;
      throw new BackendError("webgpu", "read a tensor", error);
    }
  }

  free(tensor: BackendTensor): void {
    WebGpuTensor.unwrap(tensor).free();
  }

  /** Frees every buffer and the device. The backend is unusable afterwards. */
  destroy(): void {
    this.gpu.pool.destroy();
    this.device.destroy();
  }

  /** A tensor in a buffer of its own, destroyed when freed (weights, constants). */
  private uploadAlone(tensor: HostTensor, what: string): WebGpuTensor {
    return new WebGpuTensor(tensor.dtype, tensor.shape, this.gpu.uploadAlone(tensor, what), 0, false);
  }

  private checkAlive(): void {
    if (this.lost !== undefined) throw new BackendError("webgpu", "use the device", `the GPU device was lost (${this.lost})`);
  }
}
