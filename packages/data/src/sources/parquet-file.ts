// Parquet files (Hugging Face datasets' native format) through hyparquet, pure JavaScript, with
// hyparquet-compressors for the codecs beyond Snappy (ZSTD, GZIP, Brotli, LZ4). The column read is
// `messages` when the file has one (a list of {role, content} structs, or a JSON string of one),
// else `text`; each row is then the same record a JSONL line would be. Rows are read one row group
// at a time, so memory follows the row group, not the file.
import { open, type FileHandle } from "node:fs/promises";
import { parquetMetadataAsync, parquetReadObjects, parquetSchema, type AsyncBuffer, type FileMetaData } from "hyparquet";
import { compressors } from "hyparquet-compressors";
import { documentFromRecord, type Document } from "../documents.js";
import { MalformedFileError, MalformedRecordError, MissingColumnError } from "../errors.js";

const COLUMNS = ["messages", "text"] as const;

export async function* readParquetFile(path: string): AsyncGenerator<Document> {
  const handle = await open(path, "r");
  try {
    const file = await fileBuffer(handle);
    let metadata: FileMetaData;
    try {
      metadata = await parquetMetadataAsync(file);
    } catch (error) {
      throw new MalformedFileError(path, `not a readable Parquet file (${(error as Error).message})`, { cause: error });
    }
    const names = parquetSchema(metadata).children.map((child) => child.element.name);
    const column = COLUMNS.find((name) => names.includes(name));
    if (column === undefined) throw new MissingColumnError(path, COLUMNS, names);
    const decoder = new TextDecoder();
    let rowStart = 0;
    for (const group of metadata.row_groups) {
      const rowEnd = rowStart + Number(group.num_rows);
      let rows: Record<string, unknown>[];
      try {
        rows = await parquetReadObjects({ file, metadata, columns: [column], rowStart, rowEnd, compressors });
      } catch (error) {
        throw new MalformedFileError(path, `rows ${rowStart}-${rowEnd - 1}: ${(error as Error).message}`, { cause: error });
      }
      for (let i = 0; i < rows.length; i++) {
        const value = rows[i]![column];
        // A BYTE_ARRAY column without a UTF8 annotation comes back as bytes.
        const record = { [column]: value instanceof Uint8Array ? decoder.decode(value) : value };
        const document = documentFromRecord(record);
        if ("problem" in document) throw new MalformedRecordError(path, `row ${rowStart + i}`, document.problem);
        yield document;
      }
      rowStart = rowEnd;
    }
  } finally {
    await handle.close();
  }
}

/** hyparquet's view of a file: byte ranges read through one open handle, on demand. */
async function fileBuffer(handle: FileHandle): Promise<AsyncBuffer> {
  const { size } = await handle.stat();
  return {
    byteLength: size,
    async slice(start: number, end = size): Promise<ArrayBuffer> {
      const bytes = new Uint8Array(Math.max(0, end - start));
      let filled = 0;
      while (filled < bytes.length) {
        const { bytesRead } = await handle.read(bytes, filled, bytes.length - filled, start + filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      return bytes.buffer;
    },
  };
}
