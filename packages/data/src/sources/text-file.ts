// Plain text files. What a document is depends on the corpus, so it is an option:
//   "file"      (default) the whole file is one document, verbatim: one speech, one book, one
//               source file per document, as nanoGPT's prepare.py and the CLI's --data files expect;
//   "paragraph" documents are separated by blank lines (empty or whitespace only); a document's
//               lines are joined with "\n", so \r\n files give the same documents as \n files;
//   "line"      every non-blank line is a document (Hugging Face's "text" loader, minus blanks).
// "paragraph" and "line" stream the file; "file" holds one document, which tokenization needs whole.
import type { TextDocument } from "../documents.js";
import { readLines, readWholeText } from "./text-stream.js";

export type TextUnit = "file" | "paragraph" | "line";

export async function* readTextFile(path: string, unit: TextUnit): AsyncGenerator<TextDocument> {
  if (unit === "file") {
    yield { text: await readWholeText(path) };
    return;
  }
  let paragraph: string[] = [];
  for await (const { line } of readLines(path)) {
    const blank = line.trim() === "";
    if (unit === "line") {
      if (!blank) yield { text: line };
    } else if (!blank) {
      paragraph.push(line);
    } else if (paragraph.length > 0) {
      yield { text: paragraph.join("\n") };
      paragraph = [];
    }
  }
  if (paragraph.length > 0) yield { text: paragraph.join("\n") };
}
