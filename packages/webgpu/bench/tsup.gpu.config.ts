import { defineConfig } from "tsup";

// The bench as one ESM file, for a GPU machine that has Node and Dawn but no node_modules:
// everything bundled except Dawn (`webgpu`, a native addon that travels beside the file) and
// @gemma-ts/core/node (onnxruntime's native addon; without it the bench prints WebGPU's figures).
export default defineConfig({
  entry: { "gpu-bench": "bench/webgpu.bench.ts" },
  outDir: "dist-gpu",
  format: ["esm"],
  // .mjs: the file runs as ESM wherever it is copied, without a package.json beside it.
  outExtension: () => ({ js: ".mjs" }),
  platform: "node",
  target: "node20",
  splitting: false,
  dts: false,
  clean: true,
  external: ["webgpu", "@gemma-ts/core/node"],
  noExternal: [/^(?!webgpu$|@gemma-ts\/core\/node$).*/],
  esbuildOptions(options) {
    options.conditions = ["@gemma-ts/source"];
  },
});
