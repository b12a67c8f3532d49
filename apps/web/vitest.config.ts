import { defineGemmaProject } from "@gemma-ts/vitest-preset";

export default defineGemmaProject();
