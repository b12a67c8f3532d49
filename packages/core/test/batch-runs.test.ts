import { describe, expect, it } from "vitest";
import { batchRuns } from "../src/generate/batch-runs.js";

describe("batchRuns", () => {
  it("keeps neighbouring rows in one run and splits where the idle rows between would dominate", () => {
    expect(batchRuns([])).toEqual([]);
    expect(batchRuns([3])).toEqual([{ first: 3, count: 1, members: [3] }]);
    expect(batchRuns([0, 1, 2, 3])).toEqual([{ first: 0, count: 4, members: [0, 1, 2, 3] }]);
    // 0 and 2: three rows for two members is within 2 per member.
    expect(batchRuns([0, 2])).toEqual([{ first: 0, count: 3, members: [0, 2] }]);
    // 0 and 15: sixteen rows for two members is not.
    expect(batchRuns([0, 15])).toEqual([
      { first: 0, count: 1, members: [0] },
      { first: 15, count: 1, members: [15] },
    ]);
    expect(batchRuns([0, 1, 2, 9, 10], 2)).toEqual([
      { first: 0, count: 3, members: [0, 1, 2] },
      { first: 9, count: 2, members: [9, 10] },
    ]);
    expect(batchRuns([0, 15], 8)).toEqual([{ first: 0, count: 16, members: [0, 15] }]);
  });
});
