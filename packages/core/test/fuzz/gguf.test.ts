// GGUF under hostile input: byte mutations of small valid files (written by writeGguf as f32,
// q8_0 and q4_0), anywhere or in the header only, and structural lies (absurd sizes, wrong value
// types, nested arrays, counts and lengths beyond the file, bad dims, types and offsets), read
// whole, kept quantized, or for the config alone. Each case runs in a child process: it must end
// in a model or a typed error, within the time and memory bounds.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { applyByteMutation, byteMutations, fuzzParser, ParserChild } from "@gemma-ts/fuzz";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeGgufHeader, writeGguf } from "../../src/node.js";
import { RUNS, TIMEOUT_MS } from "./budget.js";
import { describeFindings } from "./findings.js";
import { encodeRawGguf, ggufLie, rawGgufOf, tellLies, type RawGguf } from "./gguf-lies.js";
import { microModel } from "./micro-model.js";

const dir = mkdtempSync(join(tmpdir(), "gemma-ts-fuzz-gguf-"));
const child = new ParserChild({ module: new URL("./targets/gguf.ts", import.meta.url).href, exportName: "readGgufCase" });
const modes = fc.constantFrom("float" as const, "quantized" as const, "config" as const);
/** llama.cpp's file types of the dtypes written. */
const FILE_TYPES = { f32: 0, q8_0: 7, q4_0: 2 } as const;
const valid: { dtype: keyof typeof FILE_TYPES; bytes: Uint8Array; headerBytes: number; raw: RawGguf }[] = [];

beforeAll(async () => {
  const { config, params } = microModel();
  for (const dtype of ["f32", "q8_0", "q4_0"] as const) {
    const path = join(dir, `valid-${dtype}.gguf`);
    await writeGguf(path, config, params, { dtype });
    const bytes = new Uint8Array(readFileSync(path));
    const headerBytes = decodeGgufHeader(bytes, bytes.length, path).dataOffset;
    valid.push({ dtype, bytes, headerBytes, raw: rawGgufOf(bytes, config, FILE_TYPES[dtype]) });
  }
});

afterAll(async () => {
  await child.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("GGUF fuzzing", () => {
  it("byte mutations of valid files end in a model or a typed error", async () => {
    const arbitrary = fc
      .tuple(fc.constantFrom(...valid), modes, fc.boolean())
      .chain(([file, mode, headerOnly]) => {
        const target = headerOnly ? file.bytes.subarray(0, file.headerBytes) : file.bytes;
        return byteMutations(target).map((mutation) => {
          const mutated = applyByteMutation(target, mutation);
          const bytes = headerOnly ? concat(mutated, file.bytes.subarray(file.headerBytes)) : mutated;
          return { dir, bytes, mode, dtype: file.dtype, headerOnly, mutation };
        });
      });
    const report = await fuzzParser({ parser: "gguf (byte mutations)", child, arbitrary, runs: RUNS, seed: 8 });
    expect(describeFindings(report)).toEqual([]);
  }, TIMEOUT_MS);

  it("structural lies end in a typed error (or a model, when the lie is harmless)", async () => {
    const arbitrary = fc
      .tuple(fc.constantFrom(...valid), modes)
      .chain(([file, mode]) =>
        fc.array(ggufLie(file.raw), { minLength: 1, maxLength: 3 }).map((lies) => ({ dir, bytes: encodeRawGguf(tellLies(file.raw, lies)), mode, dtype: file.dtype, lies })),
      );
    const report = await fuzzParser({ parser: "gguf (structural lies)", child, arbitrary, runs: RUNS, seed: 9 });
    expect(describeFindings(report)).toEqual([]);
  }, TIMEOUT_MS);
});

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
