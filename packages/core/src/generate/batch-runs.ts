// Which rows of the KV cache go through one forward pass together. A pass runs over a contiguous
// run of cache rows (a view, no copy); rows inside the run that have nothing to feed ride along
// inactive, computed and thrown away. So a run grows only while it stays dense enough that the
// waste is bounded: one pass over rows 0..15 for two members at 0 and 15 would cost 8x theirs.

export interface BatchRun {
  first: number;
  count: number;
  /** The rows that feed tokens, ascending. */
  members: number[];
}

/** Splits ascending row indices into runs spanning at most `maxSpanPerMember` rows per member. */
export function batchRuns(rows: readonly number[], maxSpanPerMember = 2): BatchRun[] {
  const runs: BatchRun[] = [];
  let current: BatchRun | undefined;
  for (const row of rows) {
    const span = current ? row - current.first + 1 : 0;
    if (current && span <= maxSpanPerMember * (current.members.length + 1)) {
      current.members.push(row);
      current.count = span;
    } else {
      current = { first: row, count: 1, members: [row] };
      runs.push(current);
    }
  }
  return runs;
}
