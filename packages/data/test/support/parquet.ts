// Parquet test files written with hyparquet-writer, in the layouts Hugging Face datasets (pyarrow)
// produces: a UTF-8 string column `text`, or `messages` as a list of {content, role} structs.
import { parquetWriteFile } from "hyparquet-writer";
import type { ChatMessage } from "@gemma-ts/tokenizer";

export function writeTextParquet(path: string, texts: string[], options: { rowGroupSize?: number; extraColumn?: boolean } = {}): void {
  parquetWriteFile({
    filename: path,
    columnData: [
      { name: "text", data: texts, type: "STRING" },
      ...(options.extraColumn ? [{ name: "id", data: texts.map((_, i) => i), type: "INT32" as const }] : []),
    ],
    ...(options.rowGroupSize ? { rowGroupSize: options.rowGroupSize } : {}),
  });
}

export function writeMessagesParquet(path: string, conversations: ChatMessage[][]): void {
  parquetWriteFile({
    filename: path,
    columnData: [{ name: "messages", data: conversations }],
    schema: [
      { name: "schema", num_children: 1 },
      { name: "messages", repetition_type: "OPTIONAL", converted_type: "LIST", num_children: 1 },
      { name: "list", repetition_type: "REPEATED", num_children: 1 },
      { name: "element", repetition_type: "OPTIONAL", num_children: 2 },
      { name: "content", type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "OPTIONAL" },
      { name: "role", type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "OPTIONAL" },
    ],
  });
}
