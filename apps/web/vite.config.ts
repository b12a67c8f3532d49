import { defaultClientConditions, defineConfig } from "vite";

// The workspace packages are compiled from their TypeScript sources (their "@gemma-ts/source"
// export condition), so the page needs no package build first. Relative paths: the built page
// runs from any folder (a static host's subpath, file servers in tests).
export default defineConfig({
  base: "./",
  resolve: { conditions: ["@gemma-ts/source", ...defaultClientConditions] },
  build: { target: "es2022", chunkSizeWarningLimit: 2048 },
});
