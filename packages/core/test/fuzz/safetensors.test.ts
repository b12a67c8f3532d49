// safetensors under hostile input: byte mutations of a small valid file (written by
// writeSafetensors, one tensor of each dtype read), anywhere or in the header only, and
// structural lies (shapes, offsets and dtypes that disagree with the data, a lying length prefix,
// deep nesting, many tensors, duplicates, missing or extra data). Each case runs in a child
// process: the file must open and read, or fail with a typed error, within the time and memory bounds.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { applyByteMutation, byteMutations, fuzzParser, ParserChild } from "@gemma-ts/fuzz";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HostTensor } from "../../src/index.js";
import { writeSafetensors } from "../../src/node.js";
import { RUNS, TIMEOUT_MS } from "./budget.js";
import { describeFindings } from "./findings.js";
import { encodeWithLies, safetensorsLie, safetensorsParts, type SafetensorsParts } from "./safetensors-lies.js";

const dir = mkdtempSync(join(tmpdir(), "gemma-ts-fuzz-safetensors-"));
const child = new ParserChild({ module: new URL("./targets/safetensors.ts", import.meta.url).href, exportName: "readSafetensorsCase" });
let valid: Uint8Array;
let headerEnd: number;
let parts: SafetensorsParts;

beforeAll(async () => {
  const path = join(dir, "valid.safetensors");
  const ramp = (n: number) => Array.from({ length: n }, (_, i) => i / 7 - 1);
  await writeSafetensors(path, [
    ["a.f32", HostTensor.float32([4, 8], ramp(32))],
    ["b.f16", HostTensor.float32([16], ramp(16)).toHalf("float16")],
    ["c.bf16", HostTensor.float32([2, 3, 4], ramp(24)).toHalf("bfloat16")],
    ["d.i32", HostTensor.int32([5], [1, -2, 3, -4, 5])],
    ["e.i64", new HostTensor("int64", [3], BigInt64Array.of(1n, -(2n ** 40n), 3n))],
    ["f.empty", HostTensor.float32([0, 4])],
    ["g.scalar", HostTensor.float32([], [2.5])],
  ]);
  valid = new Uint8Array(readFileSync(path));
  headerEnd = 8 + Number(new DataView(valid.buffer).getBigUint64(0, true));
  parts = safetensorsParts(valid);
});

afterAll(async () => {
  await child.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("safetensors fuzzing", () => {
  it("byte mutations of a valid file end in its tensors or a typed error", async () => {
    const arbitrary = fc.boolean().chain((headerOnly) => {
      const target = headerOnly ? valid.subarray(0, headerEnd) : valid;
      return byteMutations(target).map((mutation) => {
        const mutated = applyByteMutation(target, mutation);
        return { dir, bytes: headerOnly ? concat(mutated, valid.subarray(headerEnd)) : mutated, headerOnly, mutation };
      });
    });
    const report = await fuzzParser({ parser: "safetensors (byte mutations)", child, arbitrary, runs: RUNS, seed: 5 });
    expect(describeFindings(report)).toEqual([]);
  }, TIMEOUT_MS);

  it("structural lies end in a typed error (or the tensors, when the lie is harmless)", async () => {
    const arbitrary = fc.array(safetensorsLie(parts), { minLength: 1, maxLength: 3 }).map((lies) => ({ dir, bytes: encodeWithLies(parts, lies), lies }));
    const report = await fuzzParser({ parser: "safetensors (structural lies)", child, arbitrary, runs: RUNS, seed: 6 });
    expect(describeFindings(report)).toEqual([]);
  }, TIMEOUT_MS);
});

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
