// One compiled graph for a training step of Gemma 2 as a language model: the forward pass with
// the weights as graph inputs, the next-token cross-entropy, and the gradient of every weight,
// traced and differentiated once per (batch, length), so each step is a single backend run.
import { gradients } from "../autodiff/backward.js";
import type { Backend, Executable } from "../backend/backend.js";
import { InvalidArgumentError } from "../errors.js";
import { GraphBuilder, type SymbolicTensor } from "../graph/builder.js";
import type { Graph } from "../graph/graph.js";
import type { Gemma2Config, LayerKind } from "../models/gemma2/config.js";
import { gemma2Forward } from "../models/gemma2/forward.js";
import { attentionMask } from "../models/gemma2/masks.js";
import { parameterSpecs, type Gemma2Params } from "../models/gemma2/params.js";
import { crossEntropy } from "../nn/losses.js";
import { ropeTables } from "../nn/rope.js";
import { HostTensor } from "../tensor/host-tensor.js";

export interface StepResult {
  loss: number;
  /** Gradient of the mean loss for every parameter, by Hugging Face name. */
  grads: Map<string, HostTensor<"float32">>;
}

export class LanguageModelStep {
  private executable: Promise<Executable> | undefined;

  /**
   * Batches are B rows of T + 1 token ids: the model reads the first T and predicts the last T.
   * Targets equal to `ignoreIndex` (e.g. padding) do not count.
   */
  constructor(
    readonly config: Gemma2Config,
    readonly backend: Backend,
    readonly shape: StepShape,
  ) {}

  /** Loss and gradients of `params` on one batch of B rows of T + 1 ids. */
  async run(params: Gemma2Params, batch: readonly (readonly number[])[]): Promise<StepResult> {
    const inputs = languageModelStepInputs(this.config, this.shape, params, batch);
    this.executable ??= this.backend.compile(traceLanguageModelStep(this.config, this.shape));
    const outputs = await (await this.executable).run(inputs);
    const grads = new Map<string, HostTensor<"float32">>();
    for (const spec of parameterSpecs(this.config)) grads.set(spec.name, outputs[`grad.${spec.name}`]!.toFloat32());
    return { loss: outputs.loss!.toFloat32().data[0]!, grads };
  }

  async dispose(): Promise<void> {
    if (this.executable) await (await this.executable).dispose();
    this.executable = undefined;
  }
}

/** The inputs of the training graph for one batch of B rows of T + 1 ids. */
export function languageModelStepInputs(
  config: Gemma2Config,
  shape: StepShape,
  params: Gemma2Params,
  batch: readonly (readonly number[])[],
): Record<string, HostTensor> {
  const { batchSize: B, sequenceLength: T } = shape;
  if (batch.length !== B || batch.some((row) => row.length !== T + 1)) {
    throw new InvalidArgumentError("batch", `expected ${B} rows of ${T + 1} token ids`);
  }
  const positions = Array.from({ length: T }, (_, t) => t);
  const { cos, sin } = ropeTables(positions, config.headDim, config.ropeTheta);
  const inputs: Record<string, HostTensor> = {
    "rope.cos": cos,
    "rope.sin": sin,
    ids: HostTensor.int64([B, T], batch.flatMap((row) => row.slice(0, T))),
    targets: HostTensor.int64([B, T], batch.flatMap((row) => row.slice(1))),
  };
  for (const kind of ["sliding_attention", "full_attention"] as const) {
    inputs[`mask.${kind}`] = attentionMask(positions, positions, kind, config.slidingWindow);
  }
  for (const [name, tensor] of params) inputs[name] = tensor;
  return inputs;
}

export interface StepShape {
  batchSize: number;
  sequenceLength: number;
  ignoreIndex?: number;
}

/**
 * The training graph: inputs `ids` and `targets` (int64 [B, T]), the RoPE tables and masks, and
 * every weight by name; outputs `loss` and `grad.<weight name>`.
 */
export function traceLanguageModelStep(config: Gemma2Config, shape: StepShape): Graph {
  const { batchSize: B, sequenceLength: T } = shape;
  const b = new GraphBuilder();
  const ids = b.input("ids", "int64", [B, T]);
  const targets = b.input("targets", "int64", [B, T]);
  const cos = b.input("rope.cos", "float32", [T, config.headDim / 2]);
  const sin = b.input("rope.sin", "float32", [T, config.headDim / 2]);
  const masks = {} as Record<LayerKind, SymbolicTensor>;
  for (const kind of ["sliding_attention", "full_attention"] as const) masks[kind] = b.input(`mask.${kind}`, "bool", [T, T]);
  const weights = new Map(parameterSpecs(config).map((spec) => [spec.name, b.input(spec.name, "float32", spec.shape)]));
  const { logits } = gemma2Forward(config, (name) => weights.get(name)!, { ids, cos, sin, masks });
  const loss = crossEntropy(logits, targets, shape.ignoreIndex ?? -100);
  return gradients(b.build({ loss }), { loss: "loss", wrt: [...weights.keys()] });
}
