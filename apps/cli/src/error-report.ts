// What the command prints for an error that ends it: one line on stderr, "gemma-ts: <message>".
// The libraries' typed errors, bad flags and file system errors are the user's to fix, so their
// message is the whole report; anything else is a bug in gemma-ts and is named as one. Only in
// verbose mode does the stack follow.
import { CoreError } from "@gemma-ts/core";
import { DataError } from "@gemma-ts/data";
import { DistillError } from "@gemma-ts/distill";
import { ServeError } from "@gemma-ts/serve";
import { ConfigurationError } from "@gemma-ts/serve/http";
import { TokenizerError } from "@gemma-ts/tokenizer";
import { InvalidArgumentError } from "commander";

export function errorReport(error: unknown, verbose: boolean): string {
  const line = `gemma-ts: ${isUserError(error) ? oneLine((error as Error).message) : bugLine(error, verbose)}\n`;
  const stack = verbose && error instanceof Error && error.stack ? `${error.stack}\n` : "";
  return line + stack;
}

/** Messages can quote the input (a JSON parser's excerpt, say), newlines and all. */
export function oneLine(text: string): string {
  return text.trim().replace(/\s*[\r\n]+\s*/g, " ");
}

function isUserError(error: unknown): boolean {
  return (
    error instanceof CoreError ||
    error instanceof TokenizerError ||
    error instanceof DataError ||
    error instanceof DistillError ||
    error instanceof ServeError ||
    error instanceof ConfigurationError ||
    error instanceof InvalidArgumentError ||
    isFileSystemError(error)
  );
}

function isFileSystemError(error: unknown): boolean {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).code === "string" && "syscall" in error;
}

function bugLine(error: unknown, verbose: boolean): string {
  const what = error instanceof Error ? `${error.name}: ${oneLine(error.message)}` : oneLine(printable(error));
  return `internal error, ${what}${verbose ? "" : " (run with --verbose for the stack)"}`;
}

/** A thrown non-Error, as text; some objects (without a prototype) cannot be converted. */
function printable(value: unknown): string {
  try {
    return String(value);
  } catch {
    return "a value that is not an Error";
  }
}
