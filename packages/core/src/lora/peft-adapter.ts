// LoRA adapters on disk in Hugging Face PEFT's layout, so PEFT, transformers and llama.cpp's
// convert_lora_to_gguf read ours and we read theirs: adapter_config.json (peft_type LORA, r,
// lora_alpha, target_modules, ...) and adapter_model.safetensors with the keys
// base_model.model.<module>.lora_A.weight [r, in] and ...lora_B.weight [out, r]. Both files are
// written atomically, the config last.
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { MalformedCheckpointError } from "../errors.js";
import { atomicWriteFile } from "../io/atomic-write.js";
import { readJsonFile } from "../io/json-file.js";
import { readSafetensors, writeSafetensors } from "../io/safetensors.js";
import type { Gemma2Config } from "../models/gemma2/config.js";
import type { HostTensor } from "../tensor/host-tensor.js";
import { LORA_MODULES, type LoraConfig, type LoraModule, loraConfig, loraTargets } from "./lora-config.js";

export const ADAPTER_CONFIG_FILE = "adapter_config.json";
export const ADAPTER_WEIGHTS_FILE = "adapter_model.safetensors";
const KEY_PREFIX = "base_model.model.";

export async function saveLoraAdapter(dir: string, lora: LoraConfig, adapters: ReadonlyMap<string, HostTensor>, options: { baseModel?: string } = {}): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeSafetensors(
    join(dir, ADAPTER_WEIGHTS_FILE),
    [...adapters].map(([name, tensor]) => [KEY_PREFIX + name, tensor] as const),
  );
  const config = {
    base_model_name_or_path: options.baseModel ?? null,
    bias: "none",
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: true,
    lora_alpha: lora.alpha,
    lora_dropout: 0,
    modules_to_save: null,
    peft_type: "LORA",
    r: lora.rank,
    target_modules: [...lora.targetModules],
    task_type: "CAUSAL_LM",
    use_dora: false,
    use_rslora: false,
  };
  await atomicWriteFile(join(dir, ADAPTER_CONFIG_FILE), `${JSON.stringify(config, null, 2)}\n`);
}

/** Reads an adapter folder and checks its tensors against the model they adapt. */
export async function loadLoraAdapter(dir: string, model: Gemma2Config): Promise<{ lora: LoraConfig; adapters: Map<string, HostTensor<"float32">> }> {
  const configFile = join(dir, ADAPTER_CONFIG_FILE);
  const json = (await readJsonFile(configFile)) as Record<string, unknown> | null;
  const bad = (problem: string) => new MalformedCheckpointError(configFile, problem);
  if (typeof json !== "object" || json === null) throw bad("expected a JSON object");
  if (json.peft_type !== "LORA") throw bad(`peft_type ${JSON.stringify(json.peft_type)} is not LORA`);
  for (const field of ["use_dora", "use_rslora", "fan_in_fan_out"]) if (json[field] === true) throw bad(`${field} is not supported`);
  if (json.bias !== undefined && json.bias !== "none") throw bad(`bias ${JSON.stringify(json.bias)} is not supported (only "none")`);
  const modules = json.target_modules;
  if (!Array.isArray(modules) || !modules.every((m): m is LoraModule => LORA_MODULES.includes(m as LoraModule))) {
    throw bad(`target_modules must be a list of ${LORA_MODULES.join(", ")} (regex patterns are not supported)`);
  }
  if (!Number.isInteger(json.r) || (json.r as number) < 1) throw bad(`r must be a positive integer, got ${JSON.stringify(json.r)}`);
  if (typeof json.lora_alpha !== "number" || !(json.lora_alpha > 0)) throw bad(`lora_alpha must be a positive number, got ${JSON.stringify(json.lora_alpha)}`);
  const lora = loraConfig(json.r as number, { alpha: json.lora_alpha, targetModules: modules });

  const weightsFile = join(dir, ADAPTER_WEIGHTS_FILE);
  const stored = await readSafetensors(weightsFile);
  const adapters = new Map<string, HostTensor<"float32">>();
  for (const target of loraTargets(model, lora)) {
    for (const [name, shape] of [
      [target.loraA, [lora.rank, target.inFeatures]],
      [target.loraB, [target.outFeatures, lora.rank]],
    ] as const) {
      const tensor = stored.get(KEY_PREFIX + name);
      if (!tensor) throw new MalformedCheckpointError(weightsFile, `missing ${KEY_PREFIX + name}`);
      if (tensor.shape.length !== 2 || tensor.shape[0] !== shape[0] || tensor.shape[1] !== shape[1]) {
        throw new MalformedCheckpointError(weightsFile, `${KEY_PREFIX + name} is [${tensor.shape}], expected [${shape}]`);
      }
      adapters.set(name, tensor.toFloat32());
    }
  }
  if (stored.size !== adapters.size) {
    const extra = [...stored.keys()].find((key) => !adapters.has(key.slice(KEY_PREFIX.length)));
    throw new MalformedCheckpointError(weightsFile, `unexpected tensor ${extra}`);
  }
  return { lora, adapters };
}
