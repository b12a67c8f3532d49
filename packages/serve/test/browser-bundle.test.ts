// The main entry must stay browser-safe (the HTTP server and model loading are the Node-only
// ./http entry): bundling it for the browser platform must succeed with no Node built-in
// reachable, and the bundle must load and work when evaluated without Node globals.
import { build } from "esbuild";
import { describe, expect, it } from "vitest";

describe("browser bundle of @gemma-ts/serve", () => {
  it("bundles for the browser without Node built-ins, loads without Node globals", async () => {
    const result = await build({
      entryPoints: [new URL("../src/index.ts", import.meta.url).pathname],
      bundle: true,
      platform: "browser",
      format: "iife",
      globalName: "gemmaServe",
      conditions: ["@gemma-ts/source"],
      write: false,
      logLevel: "silent",
    });
    const code = result.outputFiles[0]!.text;
    expect(code).not.toMatch(/require\(["']node:|from ["']node:/);
    // Evaluate with only what a browser has (no process, Buffer or require).
    const module = new Function("process", "Buffer", "require", `${code}; return gemmaServe;`)(undefined, undefined, undefined);
    expect(typeof module.Engine).toBe("function");
    expect(module.withinLimit(2, module.REQUEST_LIMITS.temperature)).toBe(true);
    expect(module.withinLimit(2.5, module.REQUEST_LIMITS.temperature)).toBe(false);
  });
});
