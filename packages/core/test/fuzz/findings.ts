// Fuzz findings as a test failure shows them, one line each: what happened, and what was done to
// the valid input (cut short: a lie can hold a 100,000-deep JSON text), without the bytes.
import type { CaseOutcome, FuzzReport } from "@gemma-ts/fuzz";
import { describeRaw } from "./json-lies.js";

export function describeFindings(report: FuzzReport): string[] {
  return report.findings.map(({ input, outcome }) => {
    const shown = typeof input === "object" && input !== null ? Object.fromEntries(Object.entries(input).filter(([key]) => key !== "bytes" && key !== "dir")) : input;
    const text = JSON.stringify(shown, (_, value) => (typeof value === "bigint" ? `${value}n` : typeof value === "string" ? describeRaw(value) : value)) ?? String(shown);
    return `${describeOutcome(outcome)} <- ${text.length > 400 ? `${text.slice(0, 400)}...` : text}`;
  });
}

function describeOutcome(outcome: CaseOutcome): string {
  switch (outcome.kind) {
    case "error":
      return `${outcome.name}${outcome.code ? ` [${outcome.code}]` : ""}: ${outcome.message.slice(0, 200)}`;
    case "crash":
      return `crash (exit ${outcome.exitCode}, signal ${outcome.signal}): ${outcome.stderr.slice(-300)}`;
    case "hang":
      return `hang (${outcome.ms} ms)`;
    case "memory":
      return `memory (${outcome.rssBytes} bytes resident)`;
    default:
      return outcome.kind;
  }
}
