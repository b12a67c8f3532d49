// Fuzz findings in a form an assertion can print: what happened and the start of the input,
// not megabytes of mutated file.
import type { FuzzReport } from "@gemma-ts/fuzz";

export function summarizeFindings(findings: FuzzReport["findings"]): string[] {
  return findings.map(({ input, outcome }) => {
    const what =
      outcome.kind === "error"
        ? `${outcome.name} (${outcome.code ?? "no code"}): ${outcome.message.slice(0, 160)}\n${outcome.stack ?? ""}`
        : outcome.kind === "crash"
          ? `crash (exit ${outcome.exitCode}, ${outcome.signal}): ${outcome.stderr.slice(-400)}`
          : `${outcome.kind}: ${JSON.stringify(outcome)}`;
    const text = typeof input === "string" ? input : input instanceof Uint8Array ? `${input.length} bytes ${Buffer.from(input.subarray(0, 48)).toString("hex")}` : JSON.stringify(input);
    return `${what}\n  input: ${text.slice(0, 300)}`;
  });
}
