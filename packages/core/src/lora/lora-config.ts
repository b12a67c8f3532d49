// Which matrices a LoRA adapter updates and how, in the terms of Hugging Face PEFT's LoraConfig
// (r, lora_alpha, target_modules), and the adapter's tensors by PEFT's names: for the module
// model.layers.3.self_attn.q_proj, lora_A [r, in] and lora_B [out, r].
import { InvalidArgumentError } from "../errors.js";
import type { Gemma2Config } from "../models/gemma2/config.js";
import { parameterSpecs } from "../models/gemma2/params.js";
import { HostTensor } from "../tensor/host-tensor.js";
import { Random } from "../tensor/random.js";

export const LORA_MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"] as const;
export type LoraModule = (typeof LORA_MODULES)[number];

export interface LoraConfig {
  rank: number;
  /** The update is scaled by alpha / rank. PEFT's default alpha is 8. */
  alpha: number;
  targetModules: readonly LoraModule[];
}

/** PEFT's common choice for causal LMs: the attention projections. */
export function loraConfig(rank: number, options: Partial<Omit<LoraConfig, "rank">> = {}): LoraConfig {
  const config = { rank, alpha: options.alpha ?? 2 * rank, targetModules: options.targetModules ?? ["q_proj", "k_proj", "v_proj", "o_proj"] };
  if (!Number.isInteger(rank) || rank < 1) throw new InvalidArgumentError("rank", `expected a positive integer, got ${rank}`);
  if (!(config.alpha > 0)) throw new InvalidArgumentError("alpha", `expected a positive number, got ${config.alpha}`);
  for (const module of config.targetModules) {
    if (!LORA_MODULES.includes(module)) throw new InvalidArgumentError("targetModules", `'${module}' is not one of ${LORA_MODULES.join(", ")}`);
  }
  return config;
}

export interface LoraTarget {
  /** The base weight, e.g. model.layers.0.self_attn.q_proj.weight. */
  weight: string;
  /** model.layers.0.self_attn.q_proj.lora_A.weight, [r, in] */
  loraA: string;
  /** model.layers.0.self_attn.q_proj.lora_B.weight, [out, r] */
  loraB: string;
  inFeatures: number;
  outFeatures: number;
}

/** The adapted matrices of a model, in parameter order. */
export function loraTargets(config: Gemma2Config, lora: LoraConfig): LoraTarget[] {
  return parameterSpecs(config).flatMap((spec) => {
    const module = LORA_MODULES.find((name) => spec.name.endsWith(`.${name}.weight`));
    if (!module || !lora.targetModules.includes(module)) return [];
    const prefix = spec.name.slice(0, -".weight".length);
    const [outFeatures, inFeatures] = spec.shape as [number, number];
    return [{ weight: spec.name, loraA: `${prefix}.lora_A.weight`, loraB: `${prefix}.lora_B.weight`, inFeatures, outFeatures }];
  });
}

/**
 * Fresh adapter weights as PEFT initialises them: A ~ kaiming_uniform(a = sqrt(5)), i.e.
 * U(-1/sqrt(in), 1/sqrt(in)), and B = 0, so the adapted model starts equal to the base.
 */
export function initLora(config: Gemma2Config, lora: LoraConfig, seed: number): Map<string, HostTensor<"float32">> {
  const random = new Random(seed);
  const adapters = new Map<string, HostTensor<"float32">>();
  for (const target of loraTargets(config, lora)) {
    const a = HostTensor.float32([lora.rank, target.inFeatures]);
    const bound = 1 / Math.sqrt(target.inFeatures);
    for (let i = 0; i < a.data.length; i++) a.data[i] = (2 * random.uniform() - 1) * bound;
    adapters.set(target.loraA, a);
    adapters.set(target.loraB, HostTensor.float32([target.outFeatures, lora.rank]));
  }
  return adapters;
}

/** The base weights with each adapter's update folded in: W + (alpha / r) B A (PEFT's merge_and_unload). */
export function mergeLora(config: Gemma2Config, lora: LoraConfig, base: ReadonlyMap<string, HostTensor<"float32">>, adapters: ReadonlyMap<string, HostTensor>): Map<string, HostTensor<"float32">> {
  const merged = new Map(base);
  const scale = lora.alpha / lora.rank;
  for (const target of loraTargets(config, lora)) {
    const w = base.get(target.weight);
    const a = adapters.get(target.loraA)?.toFloat32();
    const b = adapters.get(target.loraB)?.toFloat32();
    if (!w || !a || !b) throw new InvalidArgumentError("adapters", `missing ${!w ? target.weight : !a ? target.loraA : target.loraB}`);
    const out = new HostTensor("float32", w.shape, Float32Array.from(w.data));
    const { inFeatures: n, outFeatures: m } = target;
    const r = lora.rank;
    for (let i = 0; i < m; i++) {
      for (let k = 0; k < r; k++) {
        const bik = b.data[i * r + k]! * scale;
        if (bik === 0) continue;
        for (let j = 0; j < n; j++) out.data[i * n + j] = out.data[i * n + j]! + bik * a.data[k * n + j]!;
      }
    }
    merged.set(target.weight, out);
  }
  return merged;
}
