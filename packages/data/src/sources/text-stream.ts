// Text inputs are streamed: a line at a time for JSONL and line- or paragraph-split text, so a
// corpus file larger than memory is fine. A `.gz` suffix is gunzipped on the fly. A UTF-8 byte
// order mark at the start is dropped (it is an encoding artefact, not text); invalid UTF-8 becomes
// U+FFFD, as Node's decoder does, rather than failing a long run over one bad byte.
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { createGunzip } from "node:zlib";

function openBytes(path: string): Readable {
  const file = createReadStream(path);
  if (!path.endsWith(".gz")) return file;
  const gunzip = createGunzip();
  file.on("error", (error) => gunzip.destroy(error));
  return file.pipe(gunzip);
}

/** The lines of a file, without their terminators (\n, \r\n or \r), 1-based numbers alongside. */
export async function* readLines(path: string): AsyncGenerator<{ line: string; number: number }> {
  const bytes = openBytes(path);
  bytes.setEncoding("utf8");
  const lines = createInterface({ input: bytes, crlfDelay: Number.POSITIVE_INFINITY });
  let number = 0;
  try {
    for await (const line of lines) {
      number++;
      yield { line: number === 1 ? stripBom(line) : line, number };
    }
  } finally {
    lines.close();
    bytes.destroy();
  }
}

/** A whole file as one string, verbatim but for a leading byte order mark. */
export async function readWholeText(path: string): Promise<string> {
  const bytes = openBytes(path);
  bytes.setEncoding("utf8");
  let text = "";
  for await (const chunk of bytes) text += chunk as string;
  return stripBom(text);
}

function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}
