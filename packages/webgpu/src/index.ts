// @gemma-ts/webgpu: a WebGPU backend for gemma-ts graphs. Browser-safe; Node's GPU (Dawn) is in "./node".
export { WebGpuBackend, type WebGpuBackendOptions, WebGpuUnavailableError } from "./webgpu-backend.js";
export type { WebGpuExecutable } from "./webgpu-executable.js";
export type { WebGpuTensor } from "./webgpu-tensor.js";
