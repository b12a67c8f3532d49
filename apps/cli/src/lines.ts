// Splits a byte stream into lines as it arrives, so a long input starts producing output
// before EOF and memory holds one line at a time. Lines end at '\n'; a '\r' before it (CRLF
// files) is dropped. A final line without '\n' still counts; an empty input has no lines.
import { StringDecoder } from "node:string_decoder";

export async function* readLines(input: AsyncIterable<Buffer | string>): AsyncGenerator<string> {
  const decoder = new StringDecoder("utf8");
  let pending = "";
  for await (const chunk of input) {
    pending += typeof chunk === "string" ? chunk : decoder.write(chunk);
    let start = 0;
    for (let end = pending.indexOf("\n"); end >= 0; end = pending.indexOf("\n", start)) {
      yield stripCarriageReturn(pending.slice(start, end));
      start = end + 1;
    }
    pending = pending.slice(start);
  }
  pending += decoder.end();
  if (pending.length > 0) yield stripCarriageReturn(pending);
}

function stripCarriageReturn(line: string): string {
  return line.endsWith("\r") ? line.slice(0, -1) : line;
}

export async function readAll(input: AsyncIterable<Buffer | string>): Promise<string> {
  const decoder = new StringDecoder("utf8");
  let text = "";
  for await (const chunk of input) text += typeof chunk === "string" ? chunk : decoder.write(chunk);
  return text + decoder.end();
}
