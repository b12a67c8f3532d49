// Request bodies under hostile input: valid chat and completion bodies changed in type, size,
// depth and spelling, as JSON and as bytes, with right and wrong Content-Types, each through the
// whole server in a child process. Every response must keep the contract (no 5xx, OpenAI's error
// shape, parseable successes) within the time and memory bounds.
import { fuzzParser, fuzzRuns, ParserChild } from "@gemma-ts/fuzz";
import { afterAll, describe, expect, it } from "vitest";
import { bodyCase, type BodyCase } from "./request-bodies.js";

const runs = fuzzRuns(150);
const child = new ParserChild({ module: new URL("./targets/request-body.ts", import.meta.url).href, exportName: "postBody", timeoutMs: 15_000 });
afterAll(() => child.close());

describe("request body fuzzing", () => {
  it("every body gets a response that keeps the contract", { timeout: 60_000 + runs * 500 }, async () => {
    const report = await fuzzParser({ parser: "api request bodies", child, arbitrary: bodyCase, runs, seed: 91, accept: () => false });
    const shown = report.findings.map(({ input, outcome }) => ({ endpoint: (input as BodyCase).endpoint, changes: (input as BodyCase).changes, outcome }));
    expect(shown).toEqual([]);
  });
});
