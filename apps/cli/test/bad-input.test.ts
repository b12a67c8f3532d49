// Every command on bad input, run as a user runs it (the built binary): empty, garbage, absurd
// and hostile model files, a broken tokenizer, end in exactly one line on stderr ("gemma-ts: ...")
// and exit code 1, never a stack trace; --verbose or DEBUG add the stack. Each file kind is read by
// one core reader, so info, logits, convert, generate, chat and serve fail alike on it.
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { initParams, presetConfig } from "@gemma-ts/core";
import { saveHfCheckpoint, writeGguf } from "@gemma-ts/core/node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const BIN = fileURLToPath(new URL("../dist/main.js", import.meta.url));
const root = mkdtempSync(join(tmpdir(), "gemma-ts-cli-bad-"));
const { DEBUG: _, ...quietEnv } = process.env;

interface Run {
  status: number | null;
  stderr: string;
}

/**
 * The CLI with a small heap, so a loader that allocates without bound fails fast instead of
 * swapping; asynchronous, so a test's runs overlap.
 */
function cli(args: string[], options: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--max-old-space-size=256", BIN, ...args], { env: options.env ?? quietEnv, timeout: 60_000 });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text));
    child.stdout.resume();
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stderr }));
    child.stdin.end(options.input ?? "");
  });
}

/** Runs every case at once and checks each ended in one line on stderr (matching its message) and exit 1. */
async function expectOneLineErrors(cases: [args: string[], message?: RegExp, options?: { input?: string }][]): Promise<void> {
  const runs = await Promise.all(cases.map(([args, , options]) => cli(args, options)));
  runs.forEach((run, i) => {
    const [args, message] = cases[i]!;
    const what = `gemma-ts ${args.join(" ")}`;
    expect(run.stderr, what).toMatch(/^gemma-ts: [^\n]+\n$/);
    if (message) expect(run.stderr, what).toMatch(message);
    expect(run.status, what).toBe(1);
  });
}

/** A model folder whose config.json is `config`; weights and tokenizer.json are there but never reached. */
function folder(name: string, config: string): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "config.json"), config);
  writeFileSync(join(dir, "model.safetensors"), "not reached");
  writeFileSync(join(dir, "tokenizer.json"), "{}");
  return dir;
}

const tiny = presetConfig("gemma2-tiny");
const folders: Record<string, string> = {};
const ggufs: Record<string, string> = {};

beforeAll(async () => {
  folders.empty = folder("empty", "");
  folders.garbage = folder("garbage", "garbage{\n  ]");
  folders.layers = folder("layers", JSON.stringify({ vocab_size: 512, hidden_size: 64, intermediate_size: 128, num_hidden_layers: 1e9, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 16, query_pre_attn_scalar: 16, sliding_window: 8, max_position_embeddings: 256 }));

  folders.badTokenizer = join(root, "bad-tokenizer");
  await saveHfCheckpoint(folders.badTokenizer, tiny, initParams(tiny, 1));
  writeFileSync(join(folders.badTokenizer, "tokenizer.json"), '{"model": {"type": "BPE", "vocab": 5}}');

  const valid = join(root, "valid.gguf");
  await writeGguf(valid, tiny, initParams(tiny, 1), { dtype: "f32" });
  const bytes = readFileSync(valid);
  ggufs.truncated = join(root, "truncated.gguf");
  writeFileSync(ggufs.truncated, bytes.subarray(0, Math.floor(bytes.length / 2)));
  ggufs.nested = join(root, "nested.gguf");
  writeFileSync(ggufs.nested, nestedGguf(100_000));
  ggufs.layers = join(root, "layers.gguf");
  writeFileSync(ggufs.layers, withBlockCount(bytes, 2 ** 31 - 1));
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("bad model files end every command in one line and exit 1", () => {
  it("info", async () => {
    await expectOneLineErrors([
      [["info", "--model", folders.empty!], /config\.json: not valid JSON/],
      [["info", "--model", folders.garbage!], /config\.json: not valid JSON/],
      [["info", "--model", folders.layers!], /num_hidden_layers is 1000000000 .*above the limit of 1024/],
      [["info", "--model", ggufs.truncated!], /truncated/],
      [["info", "--model", ggufs.nested!], /nesting depth is 9 .*above the limit of 8/],
      [["info", "--model", ggufs.layers!], /gemma2\.block_count is 2147483647 .*above the limit of 1024/],
    ]);
  });

  it("logits and convert", async () => {
    await expectOneLineErrors([
      [["logits", "--model", folders.empty!, "--ids", "1"], /config\.json: not valid JSON/],
      [["logits", "--model", folders.layers!, "--ids", "1"], /num_hidden_layers/],
      [["logits", "--model", ggufs.truncated!, "--ids", "1"], /truncated/],
      [["logits", "--model", ggufs.nested!, "--ids", "1"], /nesting depth/],
      [["convert", "--from", folders.garbage!, "--to", join(root, "out.gguf")], /config\.json: not valid JSON/],
      [["convert", "--from", folders.layers!, "--to-onnx", join(root, "out-onnx")], /num_hidden_layers/],
      [["convert", "--from", folders.badTokenizer!, "--to-onnx", join(root, "out-onnx-2")], /vocab/],
      [["convert", "--from", folders.badTokenizer!, "--to", join(root, "out-2.gguf")], /vocab/],
    ]);
  });

  it("generate, chat and serve", async () => {
    await expectOneLineErrors([
      [["generate", "--model", folders.garbage!, "--prompt", "hi"], /config\.json: not valid JSON/],
      [["generate", "--model", folders.layers!, "--prompt", "hi"], /num_hidden_layers/],
      [["chat", "--model", folders.empty!], /config\.json: not valid JSON/, { input: "hello\n" }],
      [["serve", "--model", folders.garbage!, "--port", "0", "--host", "127.0.0.1"], /config\.json: not valid JSON/],
    ]);
  });

  it("tokenize", async () => {
    const files = ["", "garbage{", '{"model": 5}'].map((text, i) => {
      const file = join(root, `tokenizer-${i}.json`);
      writeFileSync(file, text);
      return file;
    });
    const nested = join(root, "tokenizer-nested.json");
    const depth = 20_000;
    writeFileSync(nested, `{"model": {"type": "BPE", "vocab": {}, "merges": []}, "normalizer": ${'{"type": "Sequence", "normalizers": ['.repeat(depth)}null${"]}".repeat(depth)}}`);
    await expectOneLineErrors([...files, nested].map((file) => [["tokenize", "--tokenizer", file], undefined, { input: "hello\n" }]));
  });

  it("usage errors are one line too", async () => {
    await expectOneLineErrors([
      [["info", "--bogus"], /unknown option '--bogus'/],
      [["logits", "--model", folders.empty!], /required option/],
    ]);
  });
});

describe("--verbose and DEBUG add the stack", () => {
  it("prints the one line, then the stack", async () => {
    const runs = await Promise.all([cli(["info", "--model", folders.garbage!, "--verbose"]), cli(["info", "--model", folders.garbage!], { env: { ...quietEnv, DEBUG: "1" } })]);
    for (const run of runs) {
      expect(run.status).toBe(1);
      const [first, ...rest] = run.stderr.trimEnd().split("\n");
      expect(first).toMatch(/^gemma-ts: .*config\.json: not valid JSON/);
      expect(rest.some((line) => /^\s+at /.test(line))).toBe(true);
    }
  });
});

/** A GGUF header whose only metadata value is `depth` one-item arrays around a uint8. */
function nestedGguf(depth: number): Uint8Array {
  const key = new TextEncoder().encode("fuzz.nested");
  const out = Buffer.alloc(24 + 8 + key.length + 4 + depth * 12 + 1);
  let at = out.writeUInt32LE(0x46554747, 0);
  at = out.writeUInt32LE(3, at);
  at = out.writeBigUInt64LE(0n, at); // tensors
  at = out.writeBigUInt64LE(1n, at); // metadata entries
  at = out.writeBigUInt64LE(BigInt(key.length), at);
  at += Buffer.from(key).copy(out, at);
  at = out.writeUInt32LE(9, at); // array
  for (let level = 1; level <= depth; level++) {
    at = out.writeUInt32LE(level < depth ? 9 : 0, at);
    at = out.writeBigUInt64LE(1n, at);
  }
  out.writeUInt8(7, at);
  return out;
}

/** `gguf` with its gemma2.block_count (a uint32 the writer puts in the header) set to `value`. */
function withBlockCount(gguf: Buffer, value: number): Buffer {
  const key = Buffer.from("gemma2.block_count");
  const at = gguf.indexOf(key);
  const out = Buffer.from(gguf);
  expect(out.readUInt32LE(at + key.length)).toBe(4); // uint32
  out.writeUInt32LE(value, at + key.length + 4);
  return out;
}
