import { defineConfig } from "tsup";

export default defineConfig({
  entry: { main: "src/main.ts", index: "src/index.ts" },
  format: ["esm"],
  platform: "node",
  target: "node20",
  sourcemap: true,
  clean: true,
  banner: { js: "#!/usr/bin/env node" },
});
