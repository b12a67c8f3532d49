import { defineConfig } from "tsup";

export default defineConfig({
  entry: { index: "src/index.ts", node: "src/node.ts" },
  format: ["esm"],
  platform: "neutral",
  external: ["webgpu", "@gemma-ts/core"],
  dts: true,
  sourcemap: true,
  clean: true,
});
