// AdamW (Loshchilov & Hutter): Adam moments with bias correction, and weight decay decoupled
// from the gradient (applied to the weights directly), as torch.optim.AdamW does it. Runs on the
// host over Float32Arrays; state is one pair of moment buffers per parameter, by name.
import { ShapeMismatchError } from "../errors.js";
import type { HostTensor } from "../tensor/host-tensor.js";

export interface AdamWOptions {
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  /** Parameters exempt from weight decay (e.g. norms), by name. */
  noDecay?: (name: string) => boolean;
}

export interface AdamWState {
  step: number;
  moments: Map<string, { first: Float32Array; second: Float32Array }>;
}

export class AdamW {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  private readonly noDecay: (name: string) => boolean;
  state: AdamWState = { step: 0, moments: new Map() };

  constructor(options: AdamWOptions = {}) {
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0.01;
    this.noDecay = options.noDecay ?? (() => false);
  }

  /** One update of every parameter in `params` with its gradient in `grads`, at learning rate `lr`. */
  step(params: ReadonlyMap<string, HostTensor<"float32">>, grads: ReadonlyMap<string, HostTensor>, lr: number): void {
    this.state.step++;
    const t = this.state.step;
    const correction1 = 1 - this.beta1 ** t;
    const correction2 = 1 - this.beta2 ** t;
    for (const [name, param] of params) {
      const grad = grads.get(name)?.toFloat32();
      if (!grad) continue;
      if (grad.size !== param.size) throw new ShapeMismatchError("AdamW", `gradient of ${name} has ${grad.size} elements, the weight ${param.size}`);
      let moments = this.state.moments.get(name);
      if (!moments) {
        moments = { first: new Float32Array(param.size), second: new Float32Array(param.size) };
        this.state.moments.set(name, moments);
      }
      const decay = this.noDecay(name) ? 0 : lr * this.weightDecay;
      const w = param.data;
      const g = grad.data;
      const { first: m, second: v } = moments;
      const stepSize = lr / correction1;
      const sqrtCorrection2 = Math.sqrt(correction2);
      for (let i = 0; i < w.length; i++) {
        const gi = g[i]!;
        m[i] = this.beta1 * m[i]! + (1 - this.beta1) * gi;
        v[i] = this.beta2 * v[i]! + (1 - this.beta2) * gi * gi;
        w[i] = w[i]! - decay * w[i]! - (stepSize * m[i]!) / (Math.sqrt(v[i]!) / sqrtCorrection2 + this.eps);
      }
    }
  }
}
