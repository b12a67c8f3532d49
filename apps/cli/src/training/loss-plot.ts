// The loss curve as an SVG (a Vega-Lite chart): training loss per step and, when the run
// evaluates, the evaluation loss on the same axes. Long runs are averaged into at most MAX_POINTS
// buckets of consecutive steps so the file stays small.
import { atomicWriteFile } from "@gemma-ts/core/node";
import { vegaLiteSvg } from "../vega-svg.js";
import { isEvalRecord, type MetricsRecord } from "./metrics-log.js";

const MAX_POINTS = 2000;

interface Point {
  step: number;
  loss: number;
  series: "train" | "eval";
}

export async function renderLossPlot(records: readonly MetricsRecord[], title: string): Promise<string> {
  const train: Point[] = [];
  const evaluation: Point[] = [];
  for (const record of records) {
    if (isEvalRecord(record)) evaluation.push({ step: record.step, loss: record.eval_loss, series: "eval" });
    else train.push({ step: record.step, loss: record.loss, series: "train" });
  }
  const spec = {
    width: 640,
    height: 320,
    title,
    data: { values: [...bucketMeans(train.filter((point) => Number.isFinite(point.loss))), ...evaluation.filter((point) => Number.isFinite(point.loss))] },
    encoding: {
      x: { field: "step", type: "quantitative", title: "step" },
      y: { field: "loss", type: "quantitative", title: "loss", scale: { zero: false } },
      color: { field: "series", type: "nominal", title: null, scale: { domain: ["train", "eval"] } },
    },
    layer: [{ mark: { type: "line", strokeWidth: 1.5 } }, { mark: { type: "point", filled: true, size: 30 }, transform: [{ filter: "datum.series === 'eval'" }] }],
  };
  return vegaLiteSvg(spec);
}

export async function writeLossPlot(path: string, records: readonly MetricsRecord[], title: string): Promise<void> {
  await atomicWriteFile(path, await renderLossPlot(records, title));
}

/** Consecutive points averaged in groups, so at most MAX_POINTS remain (each at its group's last step). */
function bucketMeans(points: Point[]): Point[] {
  if (points.length <= MAX_POINTS) return points;
  const size = Math.ceil(points.length / MAX_POINTS);
  const out: Point[] = [];
  for (let start = 0; start < points.length; start += size) {
    const group = points.slice(start, start + size);
    out.push({ step: group.at(-1)!.step, loss: group.reduce((sum, point) => sum + point.loss, 0) / group.length, series: "train" });
  }
  return out;
}
