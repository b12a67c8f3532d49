// Evaluation over one ordered pass of a batch source: every target of its documents once, padding
// masked out. The loss is the mean negative log-likelihood per target token, summed in float64
// from the per-token log-probs the language-modelling objective reports, so batches of different
// fill (the padded last one) weigh by their tokens, not equally.
import type { TrainBatch, Trainer } from "@gemma-ts/core";
import type { Batch, BatchSource } from "@gemma-ts/data";
import { trainBatch } from "./token-data.js";

export interface Evaluation {
  loss: number;
  perplexity: number;
  /** Target tokens scored. */
  tokens: number;
}

/** `inputs`: a batch's inputs for the trainer's objective (default: the language-modelling ones). */
export async function evaluateOrdered(trainer: Trainer, source: BatchSource, inputs: (batch: Batch) => TrainBatch = trainBatch): Promise<Evaluation> {
  let negativeLogLikelihood = 0;
  let tokens = 0;
  for await (const batch of source.orderedBatches()) {
    const { report } = await trainer.evaluate(inputs(batch));
    const logprobs = report.logprobs!.toFloat32().data;
    for (let i = 0; i < batch.lossMask.length; i++) {
      if (batch.lossMask[i] === 0) continue;
      negativeLogLikelihood -= logprobs[i]!;
      tokens++;
    }
  }
  const loss = tokens === 0 ? Number.NaN : negativeLogLikelihood / tokens;
  return { loss, perplexity: Math.exp(loss), tokens };
}
