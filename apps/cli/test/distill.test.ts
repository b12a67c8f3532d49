// gemma-ts distill store / dump and train --teacher-store, run as a user runs them (the built
// binary, as child processes), with a teacher trained for a few steps by gemma-ts train: the dump
// prints what the store holds, which is the teacher's soft-capped log-softmax; the same teacher
// exported as an ONNX folder, or served with an API key, gives the same store; a store run killed
// with SIGKILL and rerun ends byte-identical to an uninterrupted one; a distilled training run
// resumes bit for bit after SIGKILL; a store of other data or another tokenizer is refused in one
// line, and so is a store changed under a run being resumed; with --kd-weight 0 the KD term
// vanishes and the run is plain training, bit for bit.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { Gemma2Model, presetConfig } from "@gemma-ts/core";
import { loadHfCheckpoint, OnnxBackend } from "@gemma-ts/core/node";
import { openTeacherStore } from "@gemma-ts/distill";
import { closeServedModel, createServer, loadServedModel } from "@gemma-ts/serve/http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliAsync } from "./support/cli-process.js";
import { type TrainingCorpus, writeTrainingCorpus } from "./support/training-corpus.js";

const BIN = fileURLToPath(new URL("../dist/main.js", import.meta.url));
const folder = mkdtempSync(join(tmpdir(), "gemma-ts-distill-"));
let corpus: TrainingCorpus;
let teacher: string;
/** A top-8 store of the training corpus, float16 (the default), in several chunks. */
let store: string;

function cli(...args: string[]) {
  const result = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", maxBuffer: 1 << 27 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function succeeded(result: { status: number | null; stdout: string; stderr: string }) {
  expect(result.status, result.stderr).toBe(0);
  return result;
}

function failedWithOneLine(args: string[], message: RegExp): void {
  const result = cli(...args);
  expect(result.status, args.join(" ")).toBe(1);
  expect(result.stderr, args.join(" ")).toMatch(/^gemma-ts: [^\n]+\n$/);
  expect(result.stderr, args.join(" ")).toMatch(message);
}

const storeArgs = (out: string, ...more: string[]) => ["distill", "store", "--teacher", teacher, "--data", corpus.txt, "--text-unit", "paragraph", "--out", out, "--threads", "1", ...more];

const trainArgs = (out: string, steps: number, ...more: string[]) => [
  "train",
  "--preset", "gemma2-tiny",
  "--data", corpus.txt,
  "--text-unit", "paragraph",
  "--out", out,
  "--steps", String(steps),
  "--batch-size", "4",
  "--seq-len", "32",
  "--threads", "1",
  ...more,
];

beforeAll(() => {
  corpus = writeTrainingCorpus(folder);
  teacher = join(folder, "teacher");
  succeeded(cli(...trainArgs(teacher, 3)));
  store = join(folder, "store-top8");
  succeeded(cli(...storeArgs(store, "--top-k", "8", "--chunk-positions", "4096")));
});
afterAll(() => rmSync(folder, { recursive: true, force: true }));

interface Metrics {
  steps: { step: number; loss: number; grad_norm: number }[];
  evals: { step: number; eval_loss: number }[];
}

function metrics(run: string): Metrics {
  const records = readFileSync(join(run, "metrics.jsonl"), "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, number>);
  return {
    steps: records.filter((record) => "loss" in record).map(({ step, loss, grad_norm }) => ({ step: step!, loss: loss!, grad_norm: grad_norm! })),
    evals: records.filter((record) => "eval_loss" in record).map(({ step, eval_loss }) => ({ step: step!, eval_loss: eval_loss! })),
  };
}

/** The last step logged so far, reading a file another process is appending to. */
function lastLoggedStep(run: string): number {
  let text: string;
  try {
    text = readFileSync(join(run, "metrics.jsonl"), "utf8");
  } catch {
    return 0;
  }
  let last = 0;
  for (const line of text.split("\n")) {
    try {
      last = Math.max(last, (JSON.parse(line) as { step: number }).step);
    } catch {
      // a line being written
    }
  }
  return last;
}

/** Starts the command and kills it with SIGKILL once `ready()` holds; resolves when it has died. */
async function killWhen(args: string[], ready: () => boolean): Promise<void> {
  const child: ChildProcess = spawn(process.execPath, [BIN, ...args], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exit = new Promise<NodeJS.Signals | null>((resolve) => child.on("exit", (_, signal) => resolve(signal)));
  while (!ready() && child.exitCode === null) await new Promise((resolve) => setTimeout(resolve, 2));
  child.kill("SIGKILL");
  expect(await exit, stderr).toBe("SIGKILL");
}

/** Every file under a folder, by relative path. */
function files(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (at: string) => {
    for (const name of readdirSync(at).sort()) {
      const path = join(at, name);
      if (statSync(path).isDirectory()) walk(path);
      else out.set(relative(dir, path), readFileSync(path));
    }
  };
  walk(dir);
  return out;
}

describe("gemma-ts distill", () => {
  it("store writes the teacher's top-k soft-capped log-probs, and dump prints them as JSON lines", async () => {
    const index = JSON.parse(readFileSync(join(store, "index.json"), "utf8"));
    expect(index).toMatchObject({ format: "gemma-ts-teacher-store", mode: "top-k", k: 8, temperature: 1, valueDtype: "float16", bytesPerToken: 38 });
    expect(index.chunks.length).toBe(Math.ceil(index.positions / 4096));
    expect(index.chunks.length).toBeGreaterThan(2);

    const lines = succeeded(cli("distill", "dump", store, "--limit", "5")).stdout.split("\n");
    expect(lines.pop()).toBe("");
    const records = lines.map((line) => JSON.parse(line) as { position: number; ids: number[]; logprobs: number[] });
    expect(records.map((record) => Object.keys(record))).toEqual(Array.from({ length: 5 }, () => ["position", "ids", "logprobs"]));
    expect(records.map((record) => record.position)).toEqual([0, 1, 2, 3, 4]);

    // What the store holds, read with the distill package.
    const opened = await openTeacherStore(store);
    const stored = await opened.readRange(0, 5);
    await opened.close();
    records.forEach((record, p) => {
      expect(record.ids).toEqual(Array.from(stored.ids.subarray(p * 8, (p + 1) * 8)));
      expect(record.logprobs).toEqual(Array.from(stored.logprobs.subarray(p * 8, (p + 1) * 8)));
    });

    // ... which is the teacher's log-softmax over its (soft-capped) logits, reduced to the top 8,
    // within float16's rounding: |stored - exact| <= |exact| x 2^-11.
    const { config, params } = await loadHfCheckpoint(teacher);
    const model = new Gemma2Model(config, params, new OnnxBackend({ intraOpThreads: 1 }));
    const V = config.vocabSize;
    const logits = await model.forward([Array.from(stored.tokens)]);
    await model.dispose();
    records.forEach((record, p) => {
      const row = Array.from(logits.data.subarray(p * V, (p + 1) * V), Number);
      const max = Math.max(...row);
      const logSum = max + Math.log(row.reduce((sum, x) => sum + Math.exp(x - max), 0));
      const exact = row.map((x) => x - logSum);
      const ninth = [...exact].sort((a, b) => b - a)[8]!;
      record.ids.forEach((id, j) => {
        expect(Math.abs(record.logprobs[j]! - exact[id]!)).toBeLessThanOrEqual(Math.abs(exact[id]!) * 2 ** -11 + 1e-6);
        expect(exact[id]!).toBeGreaterThanOrEqual(ninth - 1e-6);
      });
      expect(record.logprobs).toEqual([...record.logprobs].sort((a, b) => b - a));
    });

    // Without --limit: every position of the corpus, in order.
    const all = succeeded(cli("distill", "dump", store)).stdout.trimEnd().split("\n");
    expect(all.length).toBe(index.positions);
    expect(JSON.parse(all.at(-1)!).position).toBe(index.positions - 1);
  });

  it("store takes the teacher from an OpenAI-compatible endpoint (gemma-ts serve's, with an API key): the same ids and log-probs as the folder", async () => {
    const model = await loadServedModel(teacher, { id: "teacher", threads: 1, maxBatchSize: 8 });
    const apiKey = "distill-test-key";
    const server = createServer({ models: [model], apiKey });
    const envKey = process.env.OPENAI_API_KEY;
    try {
      const { url } = await server.listen(0, "127.0.0.1");
      const remote = join(folder, "store-remote");
      const context = String(presetConfig("gemma2-tiny").maxPositionEmbeddings);
      // The same windows on both sides (the endpoint reads 2 tokens less than its context).
      const windows = ["--top-k", "8", "--seq-len", "128"];
      const local = join(folder, "store-local-128");
      succeeded(cli(...storeArgs(local, ...windows)));
      const remoteArgs = (out: string, ...more: string[]) => [...storeArgs(out, ...windows).map((arg) => (arg === teacher ? `${url}/v1` : arg)), "--tokenizer", join(teacher, "tokenizer.json"), "--teacher-context", context, ...more];
      // Without a key, and with a wrong one from the environment: one line naming the URL, never the key.
      delete process.env.OPENAI_API_KEY;
      const keyless = await cliAsync(...remoteArgs(join(folder, "store-keyless")));
      expect(keyless.status).toBe(1);
      expect(keyless.stderr).toMatch(/^gemma-ts: [^\n]+\n$/);
      expect(keyless.stderr).toContain(`${url}/v1/models: HTTP 401: the endpoint requires an API key and none was sent`);
      expect(keyless.stderr).toMatch(/give one with --api-key \(or OPENAI_API_KEY\)/);
      process.env.OPENAI_API_KEY = "wrong-env-key";
      const refused = await cliAsync(...remoteArgs(join(folder, "store-refused")));
      expect(refused.status).toBe(1);
      expect(refused.stderr).toMatch(/^gemma-ts: [^\n]+\n$/);
      expect(refused.stderr).toContain(`${url}/v1/models: HTTP 401: the endpoint refused the API key`);
      expect(refused.stderr + refused.stdout).not.toContain("wrong-env-key");
      // --api-key wins over the environment.
      const result = await cliAsync(...remoteArgs(remote, "--api-key", apiKey));
      expect(result.status, result.stderr).toBe(0);
      expect(result.stderr + result.stdout).not.toContain(apiKey);
      const dump = (dir: string) => cli("distill", "dump", dir).stdout.trimEnd().split("\n").map((line) => JSON.parse(line) as { position: number; ids: number[]; logprobs: number[] });
      const [fromFolder, fromEndpoint] = [dump(local), dump(remote)];
      expect(fromEndpoint.length).toBe(fromFolder.length);
      fromEndpoint.forEach((record, i) => {
        expect(record.ids).toEqual(fromFolder[i]!.ids);
        record.logprobs.forEach((value, j) => expect(Math.abs(value - fromFolder[i]!.logprobs[j]!)).toBeLessThan(2 ** -10 * Math.max(1, Math.abs(value))));
      });
    } finally {
      if (envKey === undefined) delete process.env.OPENAI_API_KEY;
      else process.env.OPENAI_API_KEY = envKey;
      await server.close();
      await closeServedModel(model);
    }
    failedWithOneLine(storeArgs(join(folder, "store-no-tokenizer")).map((arg) => (arg === teacher ? "http://127.0.0.1:9/v1" : arg)), /needs --tokenizer/);
  }, 120_000);

  it("store takes an exported ONNX folder (convert --to-onnx) as the teacher: the same ids and log-probs as the Hugging Face folder", () => {
    const onnx = join(folder, "teacher-onnx");
    succeeded(cli("convert", "--from", teacher, "--to-onnx", onnx));
    const fromOnnx = join(folder, "store-onnx");
    succeeded(cli(...storeArgs(fromOnnx, "--top-k", "8", "--chunk-positions", "4096").map((arg) => (arg === teacher ? onnx : arg))));
    const dump = (dir: string) => cli("distill", "dump", dir).stdout.trimEnd().split("\n").map((line) => JSON.parse(line) as { position: number; ids: number[]; logprobs: number[] });
    const [expected, actual] = [dump(store), dump(fromOnnx)];
    expect(actual.length).toBe(expected.length);
    // The two runtimes' values differ by ~1e-6: a float16 value may move one step, and ids whose
    // log-probs tie that closely (this briefly trained teacher has many) may swap places, or swap
    // with the id just past the k-th. Anywhere else the ids are the same.
    const close = (a: number, b: number) => Math.abs(a - b) < 2 ** -10 * Math.max(1, Math.abs(a));
    let swapped = 0;
    actual.forEach((record, i) => {
      const { ids, logprobs } = expected[i]!;
      record.logprobs.forEach((value, j) => expect(close(value, logprobs[j]!), `position ${i}, slot ${j}`).toBe(true));
      ids.forEach((id, j) => {
        if (record.ids[j] === id) return;
        swapped++;
        const at = record.ids.indexOf(id);
        expect(at >= 0 ? close(record.logprobs[at]!, logprobs[j]!) : close(logprobs[j]!, logprobs.at(-1)!), `position ${i}, id ${id}`).toBe(true);
      });
    });
    console.log(`ONNX folder teacher: ${actual.length} positions, ${swapped} near-tied ids in another order`);
    expect(swapped).toBeLessThan(actual.length / 100);
    const index = JSON.parse(readFileSync(join(fromOnnx, "index.json"), "utf8"));
    expect(index.teacher.fingerprint).not.toBe(JSON.parse(readFileSync(join(store, "index.json"), "utf8")).teacher.fingerprint);
  });

  it("a store run killed with SIGKILL and rerun ends byte-identical to an uninterrupted one", async () => {
    // Many small chunks and teacher calls, so the kill lands mid-run; --sample: draws keyed by position.
    const args = (out: string) => storeArgs(out, "--sample", "8", "--seed", "3", "--chunk-positions", "1024", "--batch-tokens", "1024");
    const whole = join(folder, "store-whole");
    const first = succeeded(cli(...args(whole))).stdout;
    expect(first).toMatch(/stored 35,921 tokens of 100 documents in .*: 8 samples at temperature 1, 38 bytes per token/);

    const killed = join(folder, "store-killed");
    await killWhen(args(killed), () => existsSync(join(killed, "chunk-00000.bin")));
    expect(existsSync(join(killed, "index.json"))).toBe(false);
    expect(existsSync(join(killed, "settings.json"))).toBe(true);

    const rerun = succeeded(cli(...args(killed))).stdout;
    expect(rerun).toMatch(/continuing an interrupted run: [\d,]+ of 35,921 tokens \(\d+ chunks\) kept/);
    const expected = files(whole);
    const actual = files(killed);
    expect([...actual.keys()]).toEqual([...expected.keys()]);
    expect([...expected.keys()].filter((name) => name.startsWith("chunk-")).length).toBe(36);
    for (const [name, bytes] of expected) expect(actual.get(name)!.equals(bytes), name).toBe(true);

    // A finished store is left as it is.
    expect(succeeded(cli(...args(killed))).stdout).toMatch(/\(complete already\)/);
    expect(files(killed).get("index.json")!.equals(expected.get("index.json")!)).toBe(true);
  });

  it("train --teacher-store logs its losses and resumes bit for bit after SIGKILL", async () => {
    const steps = 30;
    const args = (out: string) => trainArgs(out, steps, "--teacher-store", store, "--eval", corpus.evalTxt, "--eval-every", "6", "--checkpoint-every", "3", "--lr", "3e-3", "--seed", "7");
    const whole = join(folder, "student-whole");
    const run = succeeded(cli(...args(whole))).stdout;
    expect(run).toMatch(/training gemma2-tiny, distilled from .*store-top8 \(top-8, KD weight 0\.5\)/);
    // The store's tokenizer (the teacher's) is the run's, since none was given.
    expect(readFileSync(join(whole, "tokenizer.json")).equals(readFileSync(join(teacher, "tokenizer.json")))).toBe(true);
    expect(JSON.parse(readFileSync(join(whole, "run.json"), "utf8")).settings).toMatchObject({ teacherStore: store, kdWeight: 0.5 });

    const killed = join(folder, "student-killed");
    await killWhen(args(killed), () => lastLoggedStep(killed) >= 4);
    const reached = lastLoggedStep(killed);
    expect(reached).toBeGreaterThanOrEqual(4);
    expect(reached).toBeLessThan(steps);
    expect(succeeded(cli("train", "--out", killed, "--resume")).stdout).toMatch(/resuming .* from step \d+ of 30/);

    const expected = metrics(whole);
    expect(expected.steps.map((record) => record.step)).toEqual(Array.from({ length: steps }, (_, i) => i + 1));
    expect(expected.evals.map((record) => record.step)).toEqual([6, 12, 18, 24, 30]);
    expect(expected.steps.every((record) => Number.isFinite(record.loss) && record.loss > 0)).toBe(true);
    expect(expected.evals.at(-1)!.eval_loss).toBeLessThan(expected.evals[0]!.eval_loss);
    expect(metrics(killed)).toEqual(expected);
    expect(readFileSync(join(killed, "model.safetensors")).equals(readFileSync(join(whole, "model.safetensors")))).toBe(true);
  });

  it("--kd-weight 0 is plain training, bit for bit; --kd-weight 1 is not", () => {
    const extra = ["--eval", corpus.evalTxt, "--eval-every", "3", "--seed", "5"];
    const plain = join(folder, "plain");
    succeeded(cli(...trainArgs(plain, 6, ...extra, "--tokenizer", join(store, "tokenizer.json"))));
    const kd0 = join(folder, "kd0");
    succeeded(cli(...trainArgs(kd0, 6, ...extra, "--teacher-store", store, "--kd-weight", "0")));
    const kd1 = join(folder, "kd1");
    succeeded(cli(...trainArgs(kd1, 6, ...extra, "--teacher-store", store, "--kd-weight", "1")));

    expect(metrics(kd0)).toEqual(metrics(plain));
    expect(readFileSync(join(kd0, "model.safetensors")).equals(readFileSync(join(plain, "model.safetensors")))).toBe(true);
    expect(metrics(kd1).steps[0]!.loss).not.toBe(metrics(plain).steps[0]!.loss);
    expect(metrics(kd1).evals).not.toEqual(metrics(plain).evals);
  });

  it("a store of other data or another tokenizer, and bad flags, end with one line", () => {
    // A tokenizer of another vocabulary: one trained on the evaluation text.
    const other = join(folder, "other-tokenizer-run");
    succeeded(cli("train", "--preset", "gemma2-tiny", "--data", corpus.evalTxt, "--text-unit", "paragraph", "--out", other, "--steps", "1", "--batch-size", "2", "--seq-len", "8", "--threads", "1"));
    const noTokenizer = join(folder, "teacher-without-tokenizer");
    succeeded(cli("init", "--preset", "gemma2-tiny", "--out", noTokenizer));
    const x = (name: string) => join(folder, name);
    const cases: [string[], RegExp][] = [
      [trainArgs(x("refused-data"), 2, "--teacher-store", store, "--data", corpus.evalTxt), /--teacher-store .* was written for other data \(100 documents of 35,921 tokens; this run's: \d+ of [\d,]+\)/],
      [trainArgs(x("refused-text-unit"), 2, "--teacher-store", store, "--text-unit", "file"), /--teacher-store .* was written for other data/],
      [trainArgs(x("refused-tokenizer"), 2, "--teacher-store", store, "--tokenizer", join(other, "tokenizer.json")), /--teacher-store .* was written for another tokenizer/],
      [trainArgs(x("no-store"), 2, "--teacher-store", x("nowhere")), /nowhere.*index\.json.*is this a complete teacher store\?/],
      [trainArgs(x("kd-alone"), 2, "--kd-weight", "0.5"), /--kd-weight needs --teacher-store/],
      [trainArgs(x("kd-range"), 2, "--teacher-store", store, "--kd-weight", "1.5"), /--kd-weight must be a number from 0 to 1, got '1\.5'/],
      [storeArgs(x("both"), "--top-k", "4", "--sample", "4"), /cannot be used with/],
      [storeArgs(x("zero"), "--top-k", "0"), /--top-k.*expected a positive integer/],
      [storeArgs(x("hot"), "--temperature", "-1"), /--temperature.*expected a positive number/],
      [storeArgs(x("no-tokenizer"), "--teacher", noTokenizer), /has no tokenizer\.json/],
      [["distill", "store", "--teacher", teacher, "--out", x("no-data")], /required option '--data <files\.\.\.>' not specified/],
      [["distill", "dump", x("nowhere")], /is this a complete teacher store\?/],
      [["distill", "dump", store, "--limit", "0"], /--limit must be a positive integer/],
    ];
    for (const [args, message] of cases) failedWithOneLine(args, message);

    // A store rewritten since the run began (here: another teacher's fingerprint) is refused on resume.
    const copy = x("store-copy");
    cpSync(store, copy, { recursive: true });
    const run = x("changed-store-run");
    succeeded(cli(...trainArgs(run, 2, "--teacher-store", copy)));
    const index = JSON.parse(readFileSync(join(copy, "index.json"), "utf8"));
    index.teacher.fingerprint = `sha256:${"0".repeat(64)}`;
    writeFileSync(join(copy, "index.json"), `${JSON.stringify(index, null, 2)}\n`);
    failedWithOneLine(["train", "--out", run, "--resume"], /--teacher-store .*store-copy has changed since the run began/);
  });
});
