// The main entry must run in a browser: bundling it for the browser platform must succeed with
// no Node built-in reachable, and the bundle must tokenize when evaluated without Node globals.
import { readFileSync } from "node:fs";
import { build } from "esbuild";
import { describe, expect, it } from "vitest";
import { GEMMA_TOKENIZER_JSON } from "./support/fixtures.js";

describe("browser bundle of @gemma-ts/tokenizer", () => {
  it("bundles for the browser without Node built-ins and encodes Gemma text", async () => {
    const result = await build({
      entryPoints: [new URL("../src/index.ts", import.meta.url).pathname],
      bundle: true,
      platform: "browser",
      format: "iife",
      globalName: "gemmaTokenizer",
      write: false,
      logLevel: "silent",
    });
    const code = result.outputFiles[0]!.text;
    expect(code).not.toMatch(/require\(["']node:|from ["']node:/);
    // Evaluate with only what a browser has (no process, Buffer or require).
    const module = new Function("process", "Buffer", "require", `${code}; return gemmaTokenizer;`)(undefined, undefined, undefined);
    const tokenizer = module.tokenizerFromJson(readFileSync(GEMMA_TOKENIZER_JSON));
    expect(Array.from(tokenizer.encode("How are you doing?").ids)).toEqual([2, 2299, 708, 692, 3900, 235336]);
  });
});
