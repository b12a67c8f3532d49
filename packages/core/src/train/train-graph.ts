// The training step as one traced graph: token ids in, the Gemma 2 forward pass, an objective's
// loss, and (for a training step) the gradient of every trainable weight. Dims are symbolic
// ("batch", "seq"), so one compiled graph serves every batch size and sequence length; RoPE and
// the causal / sliding-window masks are computed in the graph from the sequence length, so a step
// needs no host work besides the batch itself.
import { gradients } from "../autodiff/backward.js";
import { GraphBuilder, type SymbolicTensor } from "../graph/builder.js";
import type { Graph } from "../graph/graph.js";
import type { LoraConfig } from "../lora/lora-config.js";
import { loraTargets } from "../lora/lora-config.js";
import type { Gemma2Config, LayerKind } from "../models/gemma2/config.js";
import { gemma2Forward } from "../models/gemma2/forward.js";
import type { Weight } from "../nn/quantized.js";
import { inverseFrequencies } from "../nn/rope.js";
import type { Objective } from "./objective.js";

export interface TrainGraphOptions {
  config: Gemma2Config;
  objective: Objective;
  /** Every weight the graph reads (base, LoRA adapters, the objective's extras), by name. */
  shapes: ReadonlyMap<string, readonly number[]>;
  /** The weights to differentiate; none traces the loss alone (evaluation). */
  trainable: readonly string[];
  /** One output of this name with every gradient flattened and concatenated in `trainable` order, instead of `grad.<name>` each. */
  gradient?: string;
  lora?: LoraConfig | undefined;
}

/**
 * Inputs: `ids` int64 [batch, seq], the objective's inputs and every weight by name; a training
 * graph also takes `lossScale` [] (1 / micro-batches under gradient accumulation). Outputs:
 * `loss`, and `grad.<name>` of loss * lossScale for each trainable weight; an evaluation graph
 * (no trainable weights) outputs the objective's report instead.
 */
export function traceTrainGraph(options: TrainGraphOptions): Graph {
  const { config, objective } = options;
  const b = new GraphBuilder();
  const ids = b.input("ids", "int64", ["batch", "seq"]);
  const batchInputs: Record<string, SymbolicTensor> = {};
  for (const spec of objective.inputs) batchInputs[spec.name] = b.input(spec.name, spec.dtype, spec.dims);
  const params = new Map([...options.shapes].map(([name, shape]) => [name, b.input(name, "float32", shape)]));
  const param = (name: string) => {
    const tensor = params.get(name);
    if (!tensor) throw new Error(`the train graph has no weight '${name}'`); // shapes come from the trainer
    return tensor;
  };

  const weights = new Map<string, Weight>([...params]);
  if (options.lora) {
    const scale = options.lora.alpha / options.lora.rank;
    for (const target of loraTargets(config, options.lora)) {
      weights.set(target.weight, { base: param(target.weight), loraA: param(target.loraA), loraB: param(target.loraB), scale });
    }
  }

  // Every row holds positions 0..seq-1: RoPE tables [seq, h/2] and masks [seq, seq] per layer kind.
  const positions = b.range(0, "seq");
  const angles = positions.cast("float32").reshape(["seq", 1]).mul(b.constant(inverseFrequencies(config.headDim, config.ropeTheta)));
  const distance = positions.reshape(["seq", 1]).sub(positions);
  const causal = distance.greaterOrEqual(0);
  const masks: Record<LayerKind, SymbolicTensor> = {
    full_attention: causal,
    sliding_attention: b.where(causal, distance.lessOrEqual(config.slidingWindow - 1), b.scalar(0, "bool")),
  };
  const outputs = gemma2Forward(config, (name) => weights.get(name)!, { ids, cos: angles.cos(), sin: angles.sin(), masks });
  const loss = objective.loss(outputs, batchInputs, param);
  if (options.trainable.length === 0) return b.build({ loss, ...objective.report?.(outputs, batchInputs, param) });
  const scaledLoss = loss.mul(b.input("lossScale", "float32", []));
  return gradients(b.build({ loss, scaledLoss }), { loss: "scaledLoss", wrt: options.trainable, concatenated: options.gradient });
}
