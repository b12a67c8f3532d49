// What distill store's flags select: the measured default (64 samples) for a local teacher, the
// top 64 for an endpoint (which returns top log-probs only); --top-k and --sample each set the
// mode they name whatever the default.
import { describe, expect, it } from "vitest";
import { DEFAULT_STORE_SELECTION, ENDPOINT_STORE_SELECTION, InvalidArgumentError, storeSelectionFromFlags } from "../src/index.js";

describe("store flags", () => {
  it("default to 64 samples, or the top 64 from an endpoint", () => {
    expect(storeSelectionFromFlags({})).toEqual({ mode: "sample", k: 64, temperature: 1 });
    expect(storeSelectionFromFlags({}, ENDPOINT_STORE_SELECTION)).toEqual({ mode: "top-k", k: 64, temperature: 1 });
    expect(DEFAULT_STORE_SELECTION.mode).toBe("sample");
  });

  it("--top-k and --sample set their own mode; both at once, or a bad value, are refused", () => {
    expect(storeSelectionFromFlags({ topK: "8" })).toEqual({ mode: "top-k", k: 8, temperature: 1 });
    expect(storeSelectionFromFlags({ sample: "16", temperature: "2" }, ENDPOINT_STORE_SELECTION)).toEqual({ mode: "sample", k: 16, temperature: 2 });
    expect(() => storeSelectionFromFlags({ topK: "8", sample: "8" })).toThrow(InvalidArgumentError);
    expect(() => storeSelectionFromFlags({ topK: "0" })).toThrow(/expected a positive integer/);
    expect(() => storeSelectionFromFlags({ temperature: "-1" })).toThrow(/expected a positive number/);
  });
});
