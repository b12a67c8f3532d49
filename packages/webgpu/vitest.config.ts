import { existsSync } from "node:fs";
import { defineGemmaProject } from "@gemma-ts/vitest-preset";

// Tests run Dawn on SwiftShader's Vulkan driver (Debian's chromium ships it), the same CPU
// implementation on every machine, unless the caller points VK_ICD_FILENAMES at another driver.
const swiftShader = "/usr/lib/chromium/vk_swiftshader_icd.json";
const env: Record<string, string> = {};
if (process.env.VK_ICD_FILENAMES === undefined && existsSync(swiftShader)) env.VK_ICD_FILENAMES = swiftShader;

export default defineGemmaProject({ env });
