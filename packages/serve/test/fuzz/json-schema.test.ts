// response_format schemas under hostile input: trees of known and refused keywords, and shapes
// built to exhaust the stack, heap or time (thousands deep, long or fanning $ref chains, huge
// enums, property and required lists). Each runs in a child process through the compiler, the
// token grammar and a few constrained decoding steps: it must end in a result or an
// UnsupportedSchemaError, within the time and memory bounds.
import { fuzzParser, fuzzRuns, ParserChild } from "@gemma-ts/fuzz";
import { afterAll, describe, expect, it } from "vitest";
import { hostileSchemaText, plainSchemaText } from "./schema-arbitraries.js";

const treeRuns = fuzzRuns(150);
const hostileRuns = fuzzRuns(60);
/** Time for a run: hostile cases compile and walk schemas of up to ~1 MB. */
const timeout = (runs: number, msPerCase: number) => 60_000 + runs * msPerCase;
const child = new ParserChild({ module: new URL("./targets/json-schema.ts", import.meta.url).href, exportName: "compileSchemaCase", timeoutMs: 10_000 });
afterAll(() => child.close());

describe("JSON schema fuzzing", () => {
  it("schema trees compile, or are refused with a typed error", { timeout: timeout(treeRuns, 100) }, async () => {
    const report = await fuzzParser({ parser: "json-schema (trees)", child, arbitrary: plainSchemaText, runs: treeRuns, seed: 81 });
    expect(report.findings).toEqual([]);
  });

  it("hostile shapes are refused with a typed error, within the bounds", { timeout: timeout(hostileRuns, 1_000) }, async () => {
    const report = await fuzzParser({ parser: "json-schema (hostile shapes)", child, arbitrary: hostileSchemaText, runs: hostileRuns, seed: 82 });
    expect(report.findings.map(({ input, outcome }) => ({ input: String(input).slice(0, 200), outcome }))).toEqual([]);
  });
});
