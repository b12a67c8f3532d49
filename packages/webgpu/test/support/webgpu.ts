// The backend the tests run on: Dawn on whatever Vulkan driver the machine has (SwiftShader's on
// a machine without a GPU: vitest.config.ts points VK_ICD_FILENAMES at Chromium's copy). Without
// any driver the suites are skipped, with the reason; with SwiftShader installed, failing to get
// an adapter is an error, so CI cannot skip silently.
import { existsSync } from "node:fs";
import { WebGpuBackend } from "../../src/index.js";
import { nodeGpu } from "../../src/node.js";

export const SWIFTSHADER_ICD = "/usr/lib/chromium/vk_swiftshader_icd.json";

export type TestBackend = { backend: WebGpuBackend; skip?: undefined } | { backend?: undefined; skip: string };

export async function testBackend(): Promise<TestBackend> {
  try {
    return { backend: await WebGpuBackend.create({ gpu: nodeGpu() }) };
  } catch (error) {
    if (existsSync(SWIFTSHADER_ICD)) throw error;
    return { skip: `no WebGPU adapter (${error instanceof Error ? error.message : String(error)}); install chromium and libvulkan1 for SwiftShader` };
  }
}
