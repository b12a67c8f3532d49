import { defineConfig } from "tsup";

// One build for both entries so they share chunks: "./node" then uses the very classes of "."
// (errors, HostTensor), and instanceof holds across the two imports.
export default defineConfig({
  entry: { index: "src/index.ts", node: "src/node.ts" },
  format: ["esm"],
  platform: "node",
  splitting: true,
  dts: true,
  sourcemap: true,
  clean: true,
});
