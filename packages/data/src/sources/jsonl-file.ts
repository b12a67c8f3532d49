// JSON Lines: one JSON object per line, `{"text": ...}` or `{"messages": [...]}` (see
// documentFromRecord). Blank lines are skipped; any other line that is not such a record is a
// MalformedRecordError naming the file and its 1-based line number.
import { documentFromRecord, type Document } from "../documents.js";
import { MalformedRecordError } from "../errors.js";
import { readLines } from "./text-stream.js";

export async function* readJsonlFile(path: string): AsyncGenerator<Document> {
  for await (const { line, number } of readLines(path)) {
    if (line.trim() === "") continue;
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch (error) {
      throw new MalformedRecordError(path, `line ${number}`, `not JSON (${(error as Error).message})`, { cause: error });
    }
    const document = documentFromRecord(record);
    if ("problem" in document) throw new MalformedRecordError(path, `line ${number}`, document.problem);
    yield document;
  }
}
