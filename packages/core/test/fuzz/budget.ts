// How many cases each fuzz test tries (GEMMA_TS_FUZZ_RUNS under `pnpm fuzz`, a small number in
// CI), and the time a test gets for them: generous per case, since a case that hangs costs the
// child's whole timeout and a restart.
import { fuzzRuns } from "@gemma-ts/fuzz";

export const RUNS = fuzzRuns(150);
export const TIMEOUT_MS = 60_000 + RUNS * 250;
