// A Vega-Lite chart rendered headlessly to SVG by Vega (no browser, no canvas). Vega is loaded on
// first use: only the commands that draw plots pay for it.
export async function vegaLiteSvg(spec: object): Promise<string> {
  const [vega, vegaLite] = await Promise.all([import("vega"), import("vega-lite")]);
  const compiled = vegaLite.compile(spec as Parameters<typeof vegaLite.compile>[0]).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
