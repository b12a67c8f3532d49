// Node's WebGPU: Dawn through the `webgpu` package. Dawn runs on Vulkan (Linux), Metal (macOS) or
// D3D12 (Windows); on a Linux machine without a GPU, SwiftShader's Vulkan driver works:
// VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json with Debian's chromium and libvulkan1.
import { create } from "webgpu";

/** The `navigator.gpu` of Node, for WebGpuBackend.create({ gpu: nodeGpu() }). `flags` are Dawn's (e.g. "backend=vulkan"). */
export function nodeGpu(flags: readonly string[] = []): GPU {
  return create([...flags]);
}
