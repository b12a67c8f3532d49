// Gemma 2's configurations: parameter counts of the released sizes (the figures in the
// technical report, recomputed from the tensor list), config.json parsing and its errors.
import { describe, expect, it } from "vitest";
import { configFromHf, configToHf, InvalidConfigError, LimitExceededError, LOADER_LIMITS, parameterCount, parameterSpecs, PRESETS, presetConfig } from "../src/index.js";

describe("Gemma 2 configs", () => {
  it("counts the released models' parameters exactly", () => {
    expect(parameterCount(PRESETS["gemma2-2b"])).toBe(2_614_341_888);
    expect(parameterCount(PRESETS["gemma2-9b"])).toBe(9_241_705_984);
    expect(parameterCount(PRESETS["gemma2-27b"])).toBe(27_227_128_320);
    // 11 tensors per layer, plus the embedding and the final norm (288 / 464 / 508).
    expect(parameterSpecs(PRESETS["gemma2-2b"]).length).toBe(288);
    expect(parameterSpecs(PRESETS["gemma2-27b"]).length).toBe(508);
  });

  it("has small presets of about 1M, 3M, 7M and 25M parameters", () => {
    expect(parameterCount(PRESETS["gemma2-1m"])).toBeGreaterThan(0.8e6);
    expect(parameterCount(PRESETS["gemma2-1m"])).toBeLessThan(1.3e6);
    expect(parameterCount(PRESETS["gemma2-3m"])).toBeGreaterThan(2.5e6);
    expect(parameterCount(PRESETS["gemma2-3m"])).toBeLessThan(3.5e6);
    expect(parameterCount(PRESETS["gemma2-7m"])).toBeGreaterThan(6e6);
    expect(parameterCount(PRESETS["gemma2-7m"])).toBeLessThan(8e6);
    expect(parameterCount(PRESETS["gemma2-25m"])).toBeGreaterThan(22e6);
    expect(parameterCount(PRESETS["gemma2-25m"])).toBeLessThan(28e6);
  });

  it("round-trips through config.json and derives layer types from parity", () => {
    const config = presetConfig("gemma2-27b");
    const json = configToHf(config);
    delete json.layer_types;
    expect(configFromHf(JSON.parse(JSON.stringify(json)))).toEqual(config);
    expect(config.layerTypes.slice(0, 3)).toEqual(["sliding_attention", "full_attention", "sliding_attention"]);
    expect(config.queryPreAttnScalar).toBe(144);
  });

  it("accepts rope_parameters as transformers v5 writes it", () => {
    const json = { ...configToHf(presetConfig("gemma2-tiny")), rope_theta: undefined, rope_parameters: { rope_type: "default", rope_theta: 500 } };
    expect(configFromHf(json).ropeTheta).toBe(500);
  });

  it("refuses a size beyond LOADER_LIMITS before building anything from it, naming field, value and limit", () => {
    const json = { ...configToHf(presetConfig("gemma2-tiny")), num_hidden_layers: 2 ** 31 - 1, layer_types: undefined };
    let error: unknown;
    try {
      configFromHf(json, "x/config.json");
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(LimitExceededError);
    expect(error).toMatchObject({ code: "LIMIT_EXCEEDED", field: "num_hidden_layers", value: 2 ** 31 - 1, limit: LOADER_LIMITS.layers.max });
    expect((error as Error).message).toMatch(/^num_hidden_layers is 2147483647 in x\/config\.json, above the limit of 1024 \(/);
  });

  it("names the field at fault", () => {
    const json = configToHf(presetConfig("gemma2-tiny"));
    expect(() => configFromHf({ ...json, hidden_size: "64" })).toThrow(InvalidConfigError);
    expect(() => configFromHf({ ...json, hidden_size: "64" })).toThrow(/hidden_size/);
    expect(() => configFromHf({ ...json, num_key_value_heads: 3 })).toThrow(/num_key_value_heads/);
    const { query_pre_attn_scalar: _, ...missing } = json;
    expect(() => configFromHf(missing)).toThrow(/query_pre_attn_scalar/);
    expect(() => presetConfig("gemma2-3b")).toThrow(/unknown preset/);
  });
});
