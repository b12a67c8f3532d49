// Node's WebGPU: Dawn through the `webgpu` package. Dawn runs on Vulkan (Linux), Metal (macOS) or
// D3D12 (Windows); on a Linux machine without a GPU, SwiftShader's Vulkan driver works:
// VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json with Debian's chromium and libvulkan1.
import { create } from "webgpu";
import { WebGpuBackend } from "./webgpu-backend.js";

const instances = new Map<string, GPU>();

/**
 * The `navigator.gpu` of Node, for WebGpuBackend.create({ gpu: nodeGpu() }); `flags` are Dawn's
 * (e.g. "backend=vulkan"). One instance per set of flags, kept for the process's lifetime: Dawn
 * crashes when an instance is garbage-collected while devices made from it still run.
 */
export function nodeGpu(flags: readonly string[] = []): GPU {
  const key = flags.join("\n");
  let gpu = instances.get(key);
  if (!gpu) {
    gpu = create([...flags]);
    instances.set(key, gpu);
  }
  return gpu;
}

let shared: Promise<WebGpuBackend> | undefined;

/**
 * One WebGpuBackend for the process (one adapter, one device), created on first use: what the
 * CLI and the server run graphs on under `--backend webgpu`. A failed creation is not cached.
 */
export function sharedNodeBackend(): Promise<WebGpuBackend> {
  shared ??= WebGpuBackend.create({ gpu: nodeGpu() }).catch((error: unknown) => {
    shared = undefined;
    throw error;
  });
  return shared;
}
