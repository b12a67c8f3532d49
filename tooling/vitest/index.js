// Shared vitest settings: tests live in test/, resolve workspace packages through their sources
// (the "@gemma-ts/source" export condition), and get generous timeouts because the reference
// implementations they compare against (Rust tokenizers, sentencepiece) run in the same test.
import { defineConfig } from "vitest/config";

export function defineGemmaProject(overrides = {}) {
  return defineConfig({
    resolve: { conditions: ["@gemma-ts/source"] },
    test: {
      include: ["test/**/*.test.ts"],
      environment: "node",
      testTimeout: 120_000,
      hookTimeout: 120_000,
      ...overrides,
    },
  });
}
