import { defineConfig } from "tsup";

// One build for both entries so they share chunks: "./http" then uses the very classes of "."
// (the engine, its errors), and instanceof holds across the two imports.
export default defineConfig({
  entry: { index: "src/index.ts", http: "src/http/index.ts" },
  format: ["esm"],
  platform: "node",
  splitting: true,
  dts: true,
  sourcemap: true,
  clean: true,
});
