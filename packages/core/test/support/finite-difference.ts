// Central finite differences of a traced loss against its analytic gradients, in float64 on the
// reference backend: for each weight, the element with the largest gradient plus random ones
// (never only elements whose gradient is ~0). Returns the failures, so a test shows them all.
import { type Float64Tensor, type Graph, type HostTensor, Random, ReferenceBackend } from "../../src/index.js";

export interface FiniteDifferenceOptions {
  /** The scalar output whose gradients the graph has as `grad.<name>` (default "loss"). */
  loss?: string;
  /** Elements checked per weight besides the largest-gradient one. Default 3. */
  randomPicks?: number;
  tolerance?: number;
  seed?: number;
}

export async function finiteDifferenceFailures(graph: Graph, hostInputs: Readonly<Record<string, HostTensor>>, wrt: readonly string[], options: FiniteDifferenceOptions = {}): Promise<string[]> {
  const loss = options.loss ?? "loss";
  const executable = await new ReferenceBackend({ precision: "float64" }).compile(graph);
  // Weights as float64, so the perturbations are not rounded away.
  const inputs: Record<string, HostTensor | Float64Tensor> = { ...hostInputs };
  for (const name of wrt) inputs[name] = { shape: hostInputs[name]!.shape, data: Float64Array.from(hostInputs[name]!.toFloat32().data) };
  const outputs = executable.runFloat64(inputs);
  const lossAt = (name: string, index: number, delta: number): number => {
    const weights = inputs[name] as Float64Tensor;
    const saved = weights.data[index]!;
    weights.data[index] = saved + delta;
    const value = executable.runFloat64(inputs)[loss]!.data[0]!;
    weights.data[index] = saved;
    return value;
  };
  const random = new Random(options.seed ?? 5);
  const eps = 1e-6;
  const tolerance = options.tolerance ?? 1e-3;
  const failures: string[] = [];
  for (const name of wrt) {
    const analytic = outputs[`grad.${name}`]!.data;
    let largest = 0;
    for (let i = 1; i < analytic.length; i++) if (Math.abs(analytic[i]!) > Math.abs(analytic[largest]!)) largest = i;
    const picks = [largest, ...Array.from({ length: options.randomPicks ?? 3 }, () => Math.floor(random.uniform() * analytic.length))];
    for (const index of picks) {
      const numeric = (lossAt(name, index, eps) - lossAt(name, index, -eps)) / (2 * eps);
      const error = Math.abs(numeric - analytic[index]!) / Math.max(Math.abs(numeric), Math.abs(analytic[index]!), 1e-7);
      if (error > tolerance) failures.push(`${name}[${index}]: analytic ${analytic[index]} numeric ${numeric}`);
    }
    if (Math.abs(analytic[largest]!) < 1e-9) failures.push(`${name}: every gradient is ~0, nothing was checked`);
  }
  return failures;
}
