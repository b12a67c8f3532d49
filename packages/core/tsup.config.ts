import { defineConfig } from "tsup";

export default defineConfig([
  { entry: { index: "src/index.ts" }, format: ["esm"], dts: true, sourcemap: true, clean: true, platform: "neutral" },
  { entry: { node: "src/node.ts" }, format: ["esm"], dts: true, sourcemap: true, platform: "node", external: ["./index.js"] },
]);
