// Where a BatchSource batch's input tokens come from: the data package records, per row, the runs
// of consecutive positions of one document it packed (Batch.segments, over the T + 1 ids); the
// teacher inputs need them over the T input columns only, since the last id of a row is a target.
import type { Batch, BatchSegment } from "@gemma-ts/data";

export type Segment = BatchSegment;

/** The runs of each row's T input positions; columns not covered are padding (ordered pass only). */
export function batchSegments(batch: Batch): Segment[] {
  const T = batch.sequenceLength;
  return batch.segments.flatMap((segment) => {
    const count = Math.min(segment.count, T - segment.column);
    return count > 0 ? [{ ...segment, count }] : [];
  });
}
