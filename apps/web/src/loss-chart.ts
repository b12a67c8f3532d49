// The live loss chart of a fine-tuning run (uPlot): training loss against the step.
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

export class LossChart {
  private readonly steps: number[] = [];
  private readonly losses: number[] = [];
  private readonly plot: uPlot;

  constructor(private readonly container: HTMLElement) {
    this.plot = new uPlot(
      {
        width: Math.max(320, container.clientWidth || 640),
        height: 220,
        scales: { x: { time: false } },
        axes: [{ label: "step" }, { label: "loss" }],
        series: [{ label: "step" }, { label: "training loss", stroke: "#3565c9", width: 2 }],
      },
      [[], []],
      container,
    );
  }

  reset(): void {
    this.steps.length = 0;
    this.losses.length = 0;
    this.redraw();
  }

  push(step: number, loss: number): void {
    this.steps.push(step);
    this.losses.push(loss);
    this.redraw();
  }

  private redraw(): void {
    this.plot.setData([this.steps, this.losses]);
    // For scripts and tests: the plotted values, as the page shows them.
    this.container.dataset.losses = JSON.stringify(this.losses);
  }
}
