import type { Arbitrary } from "fast-check";

/** What one case did inside the child process. */
export type CaseOutcome =
  | { kind: "ok"; ms: number; rssBytes: number }
  | { kind: "error"; name: string; code?: string; message: string; stack?: string; ms: number; rssBytes: number }
  | { kind: "hang"; ms: number }
  | { kind: "crash"; exitCode: number | null; signal: string | null; stderr: string }
  | { kind: "memory"; rssBytes: number; ms: number };

export interface ParserChildOptions {
  /** File URL or absolute path of a module (TypeScript is fine: the child runs under tsx). */
  module: string;
  /** Export called once per case as `fn(input)`; may be async. Default "default". */
  exportName?: string;
  /** A case that takes longer is a hang: the child is killed and restarted. Default 5000 ms. */
  timeoutMs?: number;
  /** V8 heap limit of the child. Default 512 MiB. */
  maxOldSpaceMb?: number;
  /** Resident memory above this after a case is a finding. Default 1 GiB. */
  maxRssBytes?: number;
}

/** Runs one parser over many inputs in a child process, restarting it after a crash or hang. */
export class ParserChild {
  constructor(options: ParserChildOptions);
  run(input: unknown): Promise<CaseOutcome>;
  close(): Promise<void>;
}

export interface FuzzReport {
  parser: string;
  cases: number;
  findings: { input: unknown; outcome: CaseOutcome }[];
}

/**
 * A typed error is one whose class is not a bare JS error: the predicate decides. The default
 * accepts errors whose `code` is set and whose name is not Error/TypeError/RangeError/SyntaxError.
 */
export function isTypedError(outcome: CaseOutcome): boolean;

/** Number of fuzz cases per parser: GEMMA_TS_FUZZ_RUNS, else `ciDefault`. */
export function fuzzRuns(ciDefault: number): number;

/**
 * Feeds `runs` inputs from `arbitrary` (a fast-check Arbitrary) to the child and collects every
 * outcome that is neither ok nor accepted by `accept` (default isTypedError). Seeded: the same
 * seed gives the same cases. Prints one summary line.
 */
export function fuzzParser(options: {
  parser: string;
  child: ParserChild;
  arbitrary: Arbitrary<unknown>;
  runs: number;
  seed?: number;
  accept?: (outcome: CaseOutcome) => boolean;
}): Promise<FuzzReport>;

export type ByteMutation =
  | { kind: "truncate"; at: number }
  | { kind: "flip"; flips: [number, number][] }
  | { kind: "overwrite"; at: number; value: number; width: 1 | 2 | 4 | 8 }
  | { kind: "splice"; at: number; length: number; repeat: number };

/** Byte-level mutations of a valid file: truncate, flip, overwrite with boundary integers, splice. */
export function byteMutations(valid: Uint8Array): Arbitrary<ByteMutation>;
/** Applies a mutation drawn from byteMutations. */
export function applyByteMutation(valid: Uint8Array, mutation: ByteMutation): Uint8Array;
/** A JSON text nested `depth` levels deep in arrays (or objects with `key`). */
export function deeplyNestedJson(depth: number, key?: string): string;
