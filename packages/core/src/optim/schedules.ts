// Learning-rate schedules as pure functions of the step (0-based), so resuming at step n gives
// exactly the rate an uninterrupted run would have used.

export interface WarmupCosineOptions {
  maxLr: number;
  warmupSteps: number;
  totalSteps: number;
  /** The floor the cosine decays to. Default maxLr / 10. */
  minLr?: number;
}

/** Linear warmup from 0 to maxLr, then cosine decay to minLr at totalSteps (held after). */
export function warmupCosine(options: WarmupCosineOptions): (step: number) => number {
  const { maxLr, warmupSteps, totalSteps } = options;
  const minLr = options.minLr ?? maxLr / 10;
  return (step) => {
    if (step < warmupSteps) return (maxLr * (step + 1)) / warmupSteps;
    if (step >= totalSteps) return minLr;
    const progress = (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
    return minLr + 0.5 * (maxLr - minLr) * (1 + Math.cos(Math.PI * progress));
  };
}
