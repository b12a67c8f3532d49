// AdamW (Loshchilov & Hutter) as one graph: Adam moments with bias correction, weight decay
// decoupled from the gradient (applied to the weights directly), and clipping by the global norm
// of the gradient first, as torch.optim.AdamW after torch.nn.utils.clip_grad_norm_ does it.
// It updates every trainable weight at once as ONE flat buffer (the trainer keeps them so, each
// weight a view of it), like apex's and DeepSpeed's fused optimisers: a dozen elementwise nodes
// whatever the number of weights, where a graph per weight tensor pays a node launch for each of
// a model's hundreds. Weights and moments stay in the backend; the same graph serves a GPU.
import type { Backend, BackendTensor, Executable, RunInput } from "../backend/backend.js";
import { InvalidArgumentError } from "../errors.js";
import { GraphBuilder, type SymbolicTensor } from "../graph/builder.js";
import { HostTensor } from "../tensor/host-tensor.js";

export interface AdamWOptions {
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  /** Clip the global gradient norm to this before the update. Default: no clipping. */
  maxGradNorm?: number;
}

/** Host copies of an optimiser's state, for checkpoints: the flat moments of the weight buffer. */
export interface AdamWState {
  /** Updates applied so far. */
  step: number;
  first: Float32Array;
  second: Float32Array;
}

/** What an optimiser does with one step's gradient. */
export interface Optimizer {
  /**
   * One update of the flat weights `params` [N] from the flat gradient `grads` [N] at learning
   * rate `lr`. Returns the new weights (a new tensor; `params` is freed) and the global gradient
   * norm before clipping.
   */
  step(params: BackendTensor, grads: RunInput, lr: number): Promise<{ params: BackendTensor; gradNorm: number }>;
  state(): Promise<AdamWState>;
  load(state: AdamWState): void;
  dispose(): Promise<void>;
}

export class AdamW implements Optimizer {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly maxGradNorm: number | undefined;
  private updates = 0;
  private moments: { first: BackendTensor; second: BackendTensor } | undefined;
  private executable: Promise<Executable> | undefined;

  /**
   * `size` weights in all, of which the first `decayed` get weight decay (the trainer puts the
   * exempt ones, norms, last). Default: all decay.
   */
  constructor(
    readonly backend: Backend,
    readonly size: number,
    options: AdamWOptions & { decayed?: number } = {},
  ) {
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0.01;
    this.maxGradNorm = options.maxGradNorm;
    this.decayed = options.decayed ?? size;
    if (!Number.isInteger(size) || size < 1) throw new InvalidArgumentError("size", `expected a positive integer, got ${size}`);
    if (!Number.isInteger(this.decayed) || this.decayed < 0 || this.decayed > size) throw new InvalidArgumentError("decayed", `expected an integer in [0, ${size}], got ${this.decayed}`);
    if (this.maxGradNorm !== undefined && !(this.maxGradNorm > 0)) throw new InvalidArgumentError("maxGradNorm", `expected a positive number, got ${this.maxGradNorm}`);
  }

  private readonly decayed: number;

  async step(params: BackendTensor, grads: RunInput, lr: number): Promise<{ params: BackendTensor; gradNorm: number }> {
    for (const [name, tensor] of [
      ["params", params],
      ["grads", grads],
    ] as const) {
      if (tensor.shape.length !== 1 || tensor.shape[0] !== this.size) throw new InvalidArgumentError(name, `expected [${this.size}], got [${tensor.shape}]`);
    }
    this.moments ??= { first: this.backend.upload(HostTensor.float32([this.size])), second: this.backend.upload(HostTensor.float32([this.size])) };
    const t = this.updates + 1;
    this.executable ??= this.backend.compile(this.trace());
    const out = await (await this.executable).runResident({
      lr: scalar(lr),
      correction1: scalar(1 - this.beta1 ** t),
      "correction2.sqrt": scalar(Math.sqrt(1 - this.beta2 ** t)),
      params,
      grads,
      first: this.moments.first,
      second: this.moments.second,
    });
    this.backend.free(this.moments.first);
    this.backend.free(this.moments.second);
    this.backend.free(params);
    this.moments = { first: out["new.first"]!, second: out["new.second"]! };
    this.updates = t;
    const gradNorm = (await this.backend.read(out.gradNorm!)).toFloat32().data[0]!;
    this.backend.free(out.gradNorm!);
    return { params: out["new.params"]!, gradNorm };
  }

  async state(): Promise<AdamWState> {
    if (!this.moments) return { step: this.updates, first: new Float32Array(this.size), second: new Float32Array(this.size) };
    const first = (await this.backend.read(this.moments.first)).toFloat32().data;
    const second = (await this.backend.read(this.moments.second)).toFloat32().data;
    return { step: this.updates, first, second };
  }

  load(state: AdamWState): void {
    if (state.first.length !== this.size || state.second.length !== this.size) {
      throw new InvalidArgumentError("state", `moments of ${state.first.length} and ${state.second.length} values for ${this.size} weights`);
    }
    this.freeMoments();
    this.moments = { first: this.backend.upload(HostTensor.float32([this.size], state.first.slice())), second: this.backend.upload(HostTensor.float32([this.size], state.second.slice())) };
    this.updates = state.step;
  }

  async dispose(): Promise<void> {
    const executable = await this.executable?.catch(() => undefined);
    this.executable = undefined;
    await executable?.dispose();
    this.freeMoments();
  }

  private freeMoments(): void {
    if (!this.moments) return;
    this.backend.free(this.moments.first);
    this.backend.free(this.moments.second);
    this.moments = undefined;
  }

  private trace() {
    const b = new GraphBuilder();
    const N = this.size;
    const lr = b.input("lr", "float32", []);
    const correction1 = b.input("correction1", "float32", []);
    const sqrtCorrection2 = b.input("correction2.sqrt", "float32", []);
    const w = b.input("params", "float32", [N]);
    const rawGrad = b.input("grads", "float32", [N]);
    const m = b.input("first", "float32", [N]);
    const v = b.input("second", "float32", [N]);
    const gradNorm = rawGrad.mul(rawGrad).sum().sqrt();
    let g: SymbolicTensor = rawGrad;
    if (this.maxGradNorm !== undefined) {
      // torch's clip_grad_norm_: scale by maxNorm / (norm + 1e-6) when the norm exceeds maxNorm.
      g = g.mul(b.where(gradNorm.greater(this.maxGradNorm), b.scalar(this.maxGradNorm).div(gradNorm.add(1e-6)), b.scalar(1)));
    }
    const first = m.mul(this.beta1).add(g.mul(1 - this.beta1));
    const second = v.mul(this.beta2).add(g.mul(g).mul(1 - this.beta2));
    const update = first.mul(lr.div(correction1)).div(second.sqrt().div(sqrtCorrection2).add(this.eps));
    let decayed = w;
    if (this.weightDecay !== 0 && this.decayed > 0) {
      const shrink = lr.mul(-this.weightDecay).add(1);
      decayed = this.decayed === N ? w.mul(shrink) : b.concat([w.slice(0, 0, this.decayed).mul(shrink), w.slice(0, this.decayed, N)], 0);
    }
    return b.build({ "new.params": decayed.sub(update), "new.first": first, "new.second": second, gradNorm });
  }
}

function scalar(value: number): HostTensor<"float32"> {
  return HostTensor.float32([], [value]);
}
