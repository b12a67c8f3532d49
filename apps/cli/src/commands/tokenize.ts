// gemma-ts tokenize: stdin texts -> one JSON array of ids (or token strings) per text on stdout,
// in order, streaming. Input modes: one text per line (default), one JSON-encoded string per
// line (--jsonl, for texts holding newlines), or all of stdin as one text (--whole).
import { once } from "node:events";
import type { Writable } from "node:stream";
import type { Tokenizer } from "@gemma-ts/tokenizer";
import { loadTokenizer } from "@gemma-ts/tokenizer/node";
import { Command, InvalidArgumentError, Option } from "commander";
import { readAll, readLines } from "../lines.js";

type OutputFormat = "ids" | "tokens";

interface TokenizeOptions {
  tokenizer: string;
  special: boolean;
  format: OutputFormat;
  jsonl: boolean;
  whole: boolean;
}

export function tokenizeCommand(): Command {
  return new Command("tokenize")
    .description("encode stdin with a tokenizer.json or SentencePiece .model; one JSON array per input on stdout")
    .requiredOption("--tokenizer <path>", "tokenizer.json, a folder holding one, or a SentencePiece .model")
    .option("--special", "add special tokens (<bos>) as the tokenizer's post-processor does", false)
    .addOption(new Option("--format <format>", "print ids or token strings").choices(["ids", "tokens"]).default("ids"))
    .addOption(new Option("--jsonl", "each stdin line is one JSON-encoded string").default(false).conflicts("whole"))
    .addOption(new Option("--whole", "all of stdin is one text").default(false))
    .action(async (options: TokenizeOptions) => {
      const tokenizer = await loadTokenizer(options.tokenizer);
      await tokenize(tokenizer, options, process.stdin, process.stdout);
    });
}

async function tokenize(tokenizer: Tokenizer, options: TokenizeOptions, input: NodeJS.ReadableStream, output: Writable): Promise<void> {
  const encodeToJson = (text: string): string => {
    const encoding = tokenizer.encode(text, { addSpecialTokens: options.special });
    return JSON.stringify(options.format === "tokens" ? encoding.tokens : Array.from(encoding.ids));
  };
  const source = input as AsyncIterable<Buffer>;
  if (options.whole) {
    await write(output, `${encodeToJson(await readAll(source))}\n`);
    return;
  }
  let lineNumber = 0;
  for await (const line of readLines(source)) {
    lineNumber++;
    const text = options.jsonl ? parseJsonString(line, lineNumber) : line;
    await write(output, `${encodeToJson(text)}\n`);
  }
}

function parseJsonString(line: string, lineNumber: number): string {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    throw new InvalidArgumentError(`stdin line ${lineNumber}: not valid JSON (${(error as Error).message})`);
  }
  if (typeof value !== "string") throw new InvalidArgumentError(`stdin line ${lineNumber}: expected a JSON string, got ${typeof value}`);
  return value;
}

/** Writes and waits for the stream to drain when its buffer is full, so memory stays flat. */
async function write(output: Writable, text: string): Promise<void> {
  if (!output.write(text)) await once(output, "drain");
}
