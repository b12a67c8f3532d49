// The string formats the constrained decoder enforces, each as a pattern of json-regex.ts's subset.
// Each pattern admits only strings that ajv-formats' full checks accept (so a subset of the format
// where the format is looser than a regular language): dates never fall on February 29, times
// carry seconds and a zone (RFC 3339 requires the zone, as ajv-formats' `time` does), IPv6 is the
// full eight-group form, e-mail local parts are dot-separated atoms of [A-Za-z0-9_+-].
import { UnsupportedSchemaError } from "./errors.js";

const DATE = "\\d{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12]\\d|3[01])|(?:0[469]|11)-(?:0[1-9]|[12]\\d|30)|02-(?:0[1-9]|1\\d|2[0-8]))";
const TIME = "(?:[01]\\d|2[0-3]):[0-5]\\d:[0-5]\\d(?:\\.\\d{1,9})?(?:Z|[+-](?:[01]\\d|2[0-3]):[0-5]\\d)";
const DURATION_DATE = "(?:\\d+Y(?:\\d+M)?(?:\\d+D)?|\\d+M(?:\\d+D)?|\\d+D)";
const DURATION_TIME = "T(?:\\d+H(?:\\d+M)?(?:\\d+S)?|\\d+M(?:\\d+S)?|\\d+S)";
const OCTET = "(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)";
const HEX4 = "[0-9a-fA-F]{1,4}";
const LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?";

export const FORMATS: Readonly<Record<string, { pattern: string; maxLength?: number }>> = {
  date: { pattern: `^${DATE}$` },
  time: { pattern: `^${TIME}$` },
  "date-time": { pattern: `^${DATE}T${TIME}$` },
  duration: { pattern: `^P(?:\\d+W|${DURATION_DATE}(?:${DURATION_TIME})?|${DURATION_TIME})$` },
  uuid: { pattern: "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$" },
  // ajv-formats bounds no e-mail label, and a bounded label next to an unbounded TLD blows the DFA up.
  email: { pattern: "^[A-Za-z0-9_+-]+(?:\\.[A-Za-z0-9_+-]+)*@(?:[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*\\.)+[A-Za-z]{2,}$" },
  ipv4: { pattern: `^${OCTET}(?:\\.${OCTET}){3}$` },
  ipv6: { pattern: `^${HEX4}(?::${HEX4}){7}$` },
  hostname: { pattern: `^${LABEL}(?:\\.${LABEL})*$`, maxLength: 253 },
};

export function formatPattern(format: unknown, path: string): { pattern: string; maxLength?: number } {
  const known = typeof format === "string" && Object.hasOwn(FORMATS, format) ? FORMATS[format] : undefined;
  if (!known) throw new UnsupportedSchemaError(`${path}/format`, `format ${JSON.stringify(format)} is not supported (supported: ${Object.keys(FORMATS).join(", ")})`);
  return known;
}
