// A strict reader of Prometheus' text exposition format 0.0.4, for checking what GET /metrics
// serves: every line is a `# HELP`, a `# TYPE`, another comment, a blank or a sample; every sample
// belongs to a family whose TYPE came before it (a histogram's as name_bucket / _sum / _count);
// label values are properly escaped; a histogram's buckets are cumulative, ascending in `le`, and
// end at +Inf with its count. Throws on the first violation, naming the line.

export type MetricType = "counter" | "gauge" | "histogram" | "summary" | "untyped";

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: MetricType;
  help: string | undefined;
  samples: Sample[];
}

const NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*";
const LABEL_NAME = "[a-zA-Z_][a-zA-Z0-9_]*";
const HELP_LINE = new RegExp(`^# HELP (${NAME}) (.*)$`);
const TYPE_LINE = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`);
const SAMPLE_LINE = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)(?: (-?\\d+))?$`);
const LABEL = new RegExp(`^(${LABEL_NAME})="((?:[^"\\\\\\n]|\\\\[\\\\"n])*)"`);

export function parsePrometheusText(text: string): Map<string, Family> {
  if (!text.endsWith("\n")) throw new Error("the exposition must end with a line feed");
  const families = new Map<string, Family>();
  const helps = new Map<string, string>();
  const lines = text.slice(0, -1).split("\n");
  lines.forEach((line, index) => {
    const fail = (why: string): never => {
      throw new Error(`line ${index + 1} (${JSON.stringify(line)}): ${why}`);
    };
    if (line.trim() === "") return;
    if (line.startsWith("#")) {
      const help = HELP_LINE.exec(line);
      if (help) {
        if (helps.has(help[1]!)) fail("a second HELP for the family");
        helps.set(help[1]!, help[2]!);
        return;
      }
      const type = TYPE_LINE.exec(line);
      if (type) {
        if (families.has(type[1]!)) fail("a second TYPE for the family");
        families.set(type[1]!, { name: type[1]!, type: type[2] as MetricType, help: helps.get(type[1]!), samples: [] });
        return;
      }
      if (/^# (HELP|TYPE)\b/.test(line)) fail("a malformed HELP or TYPE line");
      return; // any other comment
    }
    const sample = SAMPLE_LINE.exec(line) ?? fail("not a sample line");
    const [, name, labelText, valueText] = sample;
    const value = parseValue(valueText!) ?? fail(`${valueText} is not a number`);
    const family = familyOf(families, name!) ?? fail(`no TYPE declared for ${name}`);
    family.samples.push({ name: name!, labels: parseLabels(labelText ?? "") ?? fail("malformed labels"), value });
  });
  for (const family of families.values()) if (family.type === "histogram") checkHistogram(family);
  return families;
}

/** The value of the one sample named `name` with exactly these labels, or undefined. */
export function sampleValue(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number | undefined {
  const family = familyOf(families, name);
  const wanted = JSON.stringify(Object.entries(labels).sort());
  return family?.samples.find((sample) => sample.name === name && JSON.stringify(Object.entries(sample.labels).sort()) === wanted)?.value;
}

function familyOf(families: Map<string, Family>, sampleName: string): Family | undefined {
  const exact = families.get(sampleName);
  if (exact && exact.type !== "histogram" && exact.type !== "summary") return exact;
  const suffix = /_(bucket|sum|count)$/.exec(sampleName);
  if (!suffix) return undefined;
  const family = families.get(sampleName.slice(0, -suffix[0].length));
  if (family?.type === "histogram") return family;
  if (family?.type === "summary" && suffix[1] !== "bucket") return family;
  return undefined;
}

function parseValue(text: string): number | undefined {
  if (text === "+Inf") return Number.POSITIVE_INFINITY;
  if (text === "-Inf") return Number.NEGATIVE_INFINITY;
  if (text === "NaN") return Number.NaN;
  return /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text) ? Number(text) : undefined;
}

function parseLabels(text: string): Record<string, string> | undefined {
  const labels: Record<string, string> = {};
  let rest = text;
  while (rest.length > 0) {
    const label = LABEL.exec(rest);
    if (!label || label[1]! in labels) return undefined;
    labels[label[1]!] = label[2]!.replace(/\\(.)/g, (_, escaped: string) => (escaped === "n" ? "\n" : escaped));
    rest = rest.slice(label[0].length);
    if (rest.startsWith(",")) rest = rest.slice(1);
    else if (rest.length > 0) return undefined;
  }
  return labels;
}

function checkHistogram(family: Family): void {
  const series = new Map<string, { buckets: [number, number][]; count?: number; sum?: number }>();
  for (const sample of family.samples) {
    const { le, ...rest } = sample.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    const entry = series.get(key) ?? { buckets: [] };
    series.set(key, entry);
    if (sample.name.endsWith("_bucket")) {
      const bound = le === undefined ? undefined : parseValue(le);
      if (bound === undefined) throw new Error(`${family.name}: a bucket without a numeric le`);
      entry.buckets.push([bound, sample.value]);
    } else if (sample.name.endsWith("_count")) entry.count = sample.value;
    else entry.sum = sample.value;
  }
  for (const [key, { buckets, count, sum }] of series) {
    const where = `${family.name}${key}`;
    if (count === undefined || sum === undefined) throw new Error(`${where}: no _count or _sum`);
    for (let i = 1; i < buckets.length; i++) {
      if (!(buckets[i]![0] > buckets[i - 1]![0])) throw new Error(`${where}: le not ascending`);
      if (buckets[i]![1] < buckets[i - 1]![1]) throw new Error(`${where}: buckets not cumulative`);
    }
    const last = buckets.at(-1);
    if (!last || last[0] !== Number.POSITIVE_INFINITY || last[1] !== count) throw new Error(`${where}: the +Inf bucket is not the count`);
  }
}
