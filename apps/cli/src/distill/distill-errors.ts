// The distill package's typed errors (a teacher of another vocabulary, a store written for other
// shards, a damaged chunk) are the user's to fix, so they end a command with their message alone,
// as the other packages' errors do, never as an internal error. error-report.ts reports commander's
// InvalidArgumentError that way; these commands hand it their errors in that form.
import { DistillError } from "@gemma-ts/distill";
import { InvalidArgumentError } from "commander";

/** Runs `work`, turning a DistillError into a one-line usage error with the same message. */
export async function distillErrorsAsUsage<T>(work: () => Promise<T>, explain?: (error: DistillError) => string | undefined): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (!(error instanceof DistillError)) throw error;
    const usage = new InvalidArgumentError(explain?.(error) ?? error.message);
    usage.cause = error;
    throw usage;
  }
}
