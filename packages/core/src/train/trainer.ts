// The trainer: weights and optimiser state held in the backend, one compiled graph for the
// objective's loss and gradient, one for the optimiser update, one that sums micro-batch
// gradients. The trainable weights live in ONE flat buffer (decayed ones first, then those exempt
// from weight decay), each weight a view of it, so the gradient comes out as one flat tensor and
// the optimiser updates everything in a dozen elementwise nodes. A step is: the gradient graph per
// micro-batch (accumulating), then the update. Nothing crosses to the host but the batch going in
// and the loss and gradient norm coming out; weights come back only when asked.
import type { Backend, BackendTensor, Executable, RunInput } from "../backend/backend.js";
import { InvalidArgumentError } from "../errors.js";
import { GraphBuilder } from "../graph/builder.js";
import { initLora, type LoraConfig, loraTargets } from "../lora/lora-config.js";
import type { Gemma2Config } from "../models/gemma2/config.js";
import type { Gemma2Params } from "../models/gemma2/params.js";
import { AdamW, type AdamWOptions } from "../optim/adamw.js";
import { HostTensor, sizeOf } from "../tensor/host-tensor.js";
import { Random } from "../tensor/random.js";
import type { Objective } from "./objective.js";
import { traceTrainGraph } from "./train-graph.js";

export interface TrainerOptions {
  config: Gemma2Config;
  backend: Backend;
  /** The model's weights, by Hugging Face name. Uploaded once (the trainable ones copied into the flat buffer). */
  params: Gemma2Params;
  objective: Objective;
  /**
   * Which base weights train (default: all, or none under LoRA). The objective's extra weights
   * and LoRA adapters always train. With none, the trainer only evaluates.
   */
  trainable?: (name: string) => boolean;
  /** Train low-rank adapters on a frozen base instead; `adapters` resumes given ones. */
  lora?: { config: LoraConfig; adapters?: ReadonlyMap<string, HostTensor> };
  /** Values of the objective's extra weights (e.g. a trained value head); else initialised. */
  extraParams?: ReadonlyMap<string, HostTensor>;
  /** AdamW's settings; `noDecay` names the weights exempt from weight decay (e.g. norms). */
  optimizer?: AdamWOptions & { noDecay?: (name: string) => boolean };
  /** Seed of the initialisation of extra weights and adapters. */
  seed?: number;
}

/** One micro-batch: `ids` int64 [B, T] and the objective's inputs, by name. */
export type TrainBatch = Readonly<Record<string, HostTensor>>;

/** AdamW's update count and its two moments of each trainable weight, by the weight's name. */
export interface OptimizerMoments {
  step: number;
  moments: Map<string, { first: Float32Array; second: Float32Array }>;
}

/** Everything a run needs to continue exactly: the trainable weights and the optimiser's state. */
export interface TrainerState {
  trainable: Map<string, HostTensor<"float32">>;
  optimizer: OptimizerMoments;
}

interface Slot {
  offset: number;
  shape: readonly number[];
}

export class Trainer {
  readonly config: Gemma2Config;
  readonly objective: Objective;
  readonly lora: LoraConfig | undefined;
  /** The weights that train, in their order in the flat buffer. */
  readonly trainableNames: readonly string[];
  private readonly backend: Backend;
  /** Frozen weights, uploaded one by one. */
  private readonly frozen = new Map<string, BackendTensor>();
  /** Where each trainable weight sits in the flat buffer. */
  private readonly slots = new Map<string, Slot>();
  private readonly shapes = new Map<string, readonly number[]>();
  private flat: BackendTensor;
  private views = new Map<string, BackendTensor>();
  /** Absent when nothing trains: such a trainer only evaluates. */
  private readonly optimizer: AdamW | undefined;
  private gradientGraph: Promise<Executable> | undefined;
  private lossGraph: Promise<Executable> | undefined;
  private accumulateGraph: Promise<Executable> | undefined;

  constructor(options: TrainerOptions) {
    const { config, backend, objective } = options;
    this.config = config;
    this.objective = objective;
    this.backend = backend;
    this.lora = options.lora?.config;
    const seed = options.seed ?? 0;

    const trainable = new Map<string, HostTensor>();
    const trains = options.trainable ?? (() => this.lora === undefined);
    for (const [name, tensor] of options.params) {
      this.shapes.set(name, tensor.shape);
      if (trains(name)) trainable.set(name, tensor);
      else this.frozen.set(name, backend.upload(tensor.toFloat32()));
    }
    if (this.lora) {
      const adapters = options.lora?.adapters ?? initLora(config, this.lora, seed);
      for (const target of loraTargets(config, this.lora)) {
        for (const name of [target.loraA, target.loraB]) {
          const tensor = adapters.get(name);
          if (!tensor) throw new InvalidArgumentError("lora.adapters", `missing ${name}`);
          trainable.set(name, tensor);
        }
      }
    }
    const random = new Random(seed + 1);
    for (const spec of objective.extraParams ?? []) {
      let tensor = options.extraParams?.get(spec.name);
      if (!tensor) {
        tensor = HostTensor.float32(spec.shape);
        for (let i = 0; i < tensor.size; i++) tensor.data[i] = random.normal() * spec.initStd;
      }
      trainable.set(spec.name, tensor);
    }

    // Decayed weights first, so the optimiser's decay is one slice of the buffer.
    const noDecay = options.optimizer?.noDecay ?? (() => false);
    const names = [...trainable.keys()];
    this.trainableNames = [...names.filter((name) => !noDecay(name)), ...names.filter(noDecay)];
    let offset = 0;
    let decayed = 0;
    for (const name of this.trainableNames) {
      const shape = trainable.get(name)!.shape;
      this.shapes.set(name, shape);
      this.slots.set(name, { offset, shape });
      offset += sizeOf(shape);
      if (!noDecay(name)) decayed = offset;
    }
    const buffer = HostTensor.float32([offset]);
    for (const name of this.trainableNames) buffer.data.set(trainable.get(name)!.toFloat32().data, this.slots.get(name)!.offset);
    this.flat = backend.upload(buffer);
    this.refreshViews();
    this.optimizer = offset > 0 ? new AdamW(backend, offset, { ...options.optimizer, decayed }) : undefined;
  }

  /** Number of trainable values. */
  get trainableSize(): number {
    return this.flat.shape[0]!;
  }

  /**
   * One optimiser step over the gradient of the mean loss of `microBatches` (gradient
   * accumulation when there are several). Returns their mean loss and the gradient norm.
   */
  async step(microBatches: readonly TrainBatch[], lr: number): Promise<{ loss: number; gradNorm: number }> {
    if (microBatches.length === 0) throw new InvalidArgumentError("microBatches", "expected at least one batch");
    if (!this.optimizer) throw new InvalidArgumentError("trainable", "no weight trains: this trainer only evaluates");
    this.gradientGraph ??= this.backend.compile(traceTrainGraph({ ...this.graphOptions(), trainable: this.trainableNames, gradient: "grads" }));
    const executable = await this.gradientGraph;
    const scale = HostTensor.float32([], [1 / microBatches.length]);
    let grads: BackendTensor | undefined;
    let loss = 0;
    for (const batch of microBatches) {
      const out = await executable.runResident({ ...this.inputs(batch), lossScale: scale });
      loss += (await this.backend.read(out.loss!)).toFloat32().data[0]! / microBatches.length;
      this.backend.free(out.loss!);
      this.backend.free(out.scaledLoss!);
      grads = grads ? await this.accumulate(grads, out.grads!) : out.grads!;
    }
    const updated = await this.optimizer.step(this.flat, grads!, lr);
    this.backend.free(grads!);
    this.flat = updated.params;
    this.refreshViews();
    return { loss, gradNorm: updated.gradNorm };
  }

  /** The objective's loss on a batch, without gradients, and what the objective reports. */
  async evaluate(batch: TrainBatch): Promise<{ loss: number; report: Record<string, HostTensor> }> {
    this.lossGraph ??= this.backend.compile(traceTrainGraph({ ...this.graphOptions(), trainable: [] }));
    const { loss, ...report } = await (await this.lossGraph).run(this.inputs(batch));
    return { loss: loss!.toFloat32().data[0]!, report };
  }

  /** Host copies of weights by name (default: the trainable ones). */
  async read(names: readonly string[] = this.trainableNames): Promise<Map<string, HostTensor<"float32">>> {
    const flat = names.some((name) => this.slots.has(name)) ? (await this.backend.read(this.flat)).toFloat32().data : undefined;
    const out = new Map<string, HostTensor<"float32">>();
    for (const name of names) {
      const slot = this.slots.get(name);
      if (slot) {
        out.set(name, new HostTensor("float32", slot.shape, flat!.slice(slot.offset, slot.offset + sizeOf(slot.shape))));
        continue;
      }
      const tensor = this.frozen.get(name);
      if (!tensor) throw new InvalidArgumentError("names", `no weight '${name}'`);
      out.set(name, (await this.backend.read(tensor)).toFloat32());
    }
    return out;
  }

  async state(): Promise<TrainerState> {
    const { step, first, second } = this.optimizer ? await this.optimizer.state() : { step: 0, first: new Float32Array(0), second: new Float32Array(0) };
    const moments = new Map<string, { first: Float32Array; second: Float32Array }>();
    for (const [name, { offset, shape }] of this.slots) {
      const end = offset + sizeOf(shape);
      moments.set(name, { first: first.slice(offset, end), second: second.slice(offset, end) });
    }
    return { trainable: await this.read(), optimizer: { step, moments } };
  }

  /** Continues from a saved state: its trainable weights and moments replace the current ones. */
  load(state: TrainerState): void {
    const size = this.trainableSize;
    const weights = HostTensor.float32([size]);
    const first = new Float32Array(size);
    const second = new Float32Array(size);
    for (const [name, { offset, shape }] of this.slots) {
      const tensor = state.trainable.get(name);
      const moments = state.optimizer.moments.get(name);
      const count = sizeOf(shape);
      if (!tensor || !moments) throw new InvalidArgumentError("state", `missing the ${tensor ? "optimiser moments" : "weight"} of '${name}'`);
      if (tensor.size !== count || moments.first.length !== count || moments.second.length !== count) {
        throw new InvalidArgumentError("state", `'${name}' has ${tensor.size} values and moments of ${moments.first.length}, the model [${shape}]`);
      }
      weights.data.set(tensor.toFloat32().data, offset);
      first.set(moments.first, offset);
      second.set(moments.second, offset);
    }
    this.backend.free(this.flat);
    this.flat = this.backend.upload(weights);
    this.refreshViews();
    this.optimizer?.load({ step: state.optimizer.step, first, second });
  }

  async dispose(): Promise<void> {
    for (const graph of [this.gradientGraph, this.lossGraph, this.accumulateGraph]) await (await graph?.catch(() => undefined))?.dispose();
    this.gradientGraph = this.lossGraph = this.accumulateGraph = undefined;
    await this.optimizer?.dispose();
    for (const tensor of this.frozen.values()) this.backend.free(tensor);
    this.frozen.clear();
    this.backend.free(this.flat);
  }

  private refreshViews(): void {
    this.views = new Map([...this.slots].map(([name, { offset, shape }]) => [name, this.backend.view(this.flat, offset, shape)]));
  }

  private graphOptions() {
    return { config: this.config, objective: this.objective, shapes: this.shapes, lora: this.lora };
  }

  /**
   * The graph's inputs: the batch entries the objective reads (others are ignored) and the
   * weights. Token ids and positions are checked here: a backend's gather does not bounds-check.
   */
  private inputs(batch: TrainBatch): Record<string, RunInput> {
    const inputs: Record<string, RunInput> = { ...Object.fromEntries(this.frozen), ...Object.fromEntries(this.views) };
    const ids = batch.ids;
    for (const spec of [{ name: "ids", indexes: "vocabulary" as const }, ...this.objective.inputs]) {
      const tensor = batch[spec.name];
      if (!tensor) throw new InvalidArgumentError("batch", `missing input '${spec.name}' of ${this.objective.name}`);
      const bound = spec.indexes === "vocabulary" ? this.config.vocabSize : spec.indexes === "positions" ? ids?.shape[1] : undefined;
      if (bound !== undefined) checkIndices(spec.name, tensor, bound);
      inputs[spec.name] = tensor;
    }
    return inputs;
  }

  /** a + b for two flat gradients, in the backend; both are freed. */
  private async accumulate(a: BackendTensor, b: BackendTensor): Promise<BackendTensor> {
    this.accumulateGraph ??= this.backend.compile(
      (() => {
        const g = new GraphBuilder();
        const shape = [this.trainableSize];
        return g.build({ sum: g.input("a", "float32", shape).add(g.input("b", "float32", shape)) });
      })(),
    );
    const out = await (await this.accumulateGraph).runResident({ a, b });
    this.backend.free(a);
    this.backend.free(b);
    return out.sum!;
  }
}

function checkIndices(name: string, tensor: HostTensor, bound: number): void {
  for (const value of tensor.data) {
    const index = Number(value);
    if (!Number.isInteger(index) || index < 0 || index >= bound) throw new InvalidArgumentError(`batch.${name}`, `${index} is outside [0, ${bound})`);
  }
}
