// One training batch of on-policy distillation: rows of prompt + completion, right-padded to the
// longest, with the teacher's top-k next-token distribution at every position and a mask that
// counts only the positions whose next token is a completion token. A row's last token is never
// read (nothing after it is trained), so a row holds prompt + completion less its last token: the
// same positions generation needed, so a completion that fills the context still fits.
import { HostTensor, type TrainBatch } from "@gemma-ts/core";
import { InvalidArgumentError } from "./errors.js";
import type { Teacher, TeacherRow } from "./teacher.js";

export interface OnPolicyBatchOptions {
  k: number;
  /** Fills the rows past their end (masked out). */
  padTokenId: number;
  /** Passed to the teacher (top-k does not draw, but the request names one). */
  seed: number;
}

/** `ids`, `teacher.ids`, `teacher.probs` and `mask` for core's onPolicyDistillation objective; tokens: mask total. */
export async function onPolicyBatch(
  teacher: Teacher,
  prompts: readonly (readonly number[])[],
  completions: readonly (readonly number[])[],
  options: OnPolicyBatchOptions,
): Promise<{ batch: TrainBatch; tokens: number }> {
  const { k } = options;
  if (prompts.length === 0 || prompts.length !== completions.length) {
    throw new InvalidArgumentError("completions", `expected one completion per prompt (${prompts.length}), got ${completions.length}`);
  }
  const rows: TeacherRow[] = prompts.map((prompt, i) => {
    const completion = completions[i]!;
    if (prompt.length === 0 || completion.length === 0) throw new InvalidArgumentError(`rows[${i}]`, "a row needs a prompt and a completion of at least one token each");
    return { ids: Int32Array.from([...prompt, ...completion.slice(0, -1)]), position: 0 };
  });
  const B = rows.length;
  const T = Math.max(...rows.map((row) => row.ids.length));
  const scores = await teacher.score(rows, { mode: "top-k", k, temperature: 1, seed: options.seed });
  const ids = new Array<number>(B * T).fill(options.padTokenId);
  const mask = new Float32Array(B * T);
  // Padding keeps id 0 with probability 0: in range, and masked out.
  const teacherIds = new Array<number>(B * T * k).fill(0);
  const teacherProbs = new Float32Array(B * T * k);
  let tokens = 0;
  let position = 0;
  rows.forEach((row, r) => {
    const first = prompts[r]!.length - 1;
    for (let t = 0; t < row.ids.length; t++, position++) {
      ids[r * T + t] = row.ids[t]!;
      if (t >= first) {
        mask[r * T + t] = 1;
        tokens++;
      }
      for (let j = 0; j < k; j++) {
        teacherIds[(r * T + t) * k + j] = scores.ids[position * k + j]!;
        // Unused slots have log-prob -Infinity: probability 0.
        teacherProbs[(r * T + t) * k + j] = Math.exp(scores.logprobs[position * k + j]!);
      }
    }
  });
  return {
    batch: {
      ids: HostTensor.int64([B, T], ids),
      "teacher.ids": HostTensor.int64([B, T, k], teacherIds),
      "teacher.probs": HostTensor.float32([B, T, k], teacherProbs),
      mask: HostTensor.float32([B, T], mask),
    },
    tokens,
  };
}
