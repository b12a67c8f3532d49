// The one entry point for input files: the format follows the extension.
import type { Document } from "../documents.js";
import { InvalidArgumentError, UnsupportedFormatError } from "../errors.js";
import { readJsonlFile } from "./jsonl-file.js";
import { readParquetFile } from "./parquet-file.js";
import { readTextFile, type TextUnit } from "./text-file.js";

export interface ReadDocumentsOptions {
  /** What a document is in a plain text file (see text-file.ts). Default "file". */
  textUnit?: TextUnit;
}

const TEXT = [".txt", ".text", ".md"];
const JSONL = [".jsonl", ".ndjson"];
const PARQUET = [".parquet"];

/** Extensions readDocuments accepts; text and JSONL may also end in `.gz`. */
export const DOCUMENT_EXTENSIONS: readonly string[] = [...TEXT, ...JSONL, ...PARQUET];

const TEXT_UNITS: readonly TextUnit[] = ["file", "paragraph", "line"];

/** The documents of one file, streamed. An unknown extension or option throws here, at the call. */
export function readDocuments(path: string, options: ReadDocumentsOptions = {}): AsyncGenerator<Document> {
  const unit = options.textUnit ?? "file";
  if (!TEXT_UNITS.includes(unit)) throw new InvalidArgumentError("textUnit", `expected one of ${TEXT_UNITS.join(", ")}, got ${JSON.stringify(unit)}`);
  const lower = path.toLowerCase();
  const plain = lower.endsWith(".gz") ? lower.slice(0, -3) : lower;
  const is = (extensions: string[]) => extensions.some((extension) => plain.endsWith(extension));
  if (is(TEXT)) return readTextFile(path, unit);
  if (is(JSONL)) return readJsonlFile(path);
  if (is(PARQUET) && plain === lower) return readParquetFile(path);
  throw new UnsupportedFormatError(path, [...DOCUMENT_EXTENSIONS, ...[...TEXT, ...JSONL].map((extension) => `${extension}.gz`)]);
}
