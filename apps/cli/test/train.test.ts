// gemma-ts train and eval, run as a user runs them (the built binary, as child processes): a run
// killed with SIGKILL and resumed logs the same losses, bit for bit, and ends with the same weights
// as an uninterrupted one; the same text as .txt, .jsonl and .parquet gives the same shards and
// losses; --lora-rank trains only adapters, saved in PEFT's layout, and the merged model scores as
// base + adapter; --teacher distils online; eval prints its JSON; bad flags end with one line.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { readSafetensors } from "@gemma-ts/core/node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type TrainingCorpus, writeTrainingCorpus } from "./support/training-corpus.js";

const BIN = fileURLToPath(new URL("../dist/main.js", import.meta.url));
const folder = mkdtempSync(join(tmpdir(), "gemma-ts-train-"));
let corpus: TrainingCorpus;

beforeAll(() => {
  corpus = writeTrainingCorpus(folder);
});
afterAll(() => rmSync(folder, { recursive: true, force: true }));

function cli(...args: string[]) {
  const result = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", maxBuffer: 1 << 26 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function succeeded(result: { status: number | null; stdout: string; stderr: string }) {
  expect(result.status, result.stderr).toBe(0);
  return result;
}

interface Metrics {
  steps: { step: number; loss: number }[];
  evals: { step: number; eval_loss: number }[];
}

function metrics(run: string): Metrics {
  const records = readFileSync(join(run, "metrics.jsonl"), "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, number>);
  return {
    steps: records.filter((record) => "loss" in record).map(({ step, loss }) => ({ step: step!, loss: loss! })),
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

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
}

const tensors = async (file: string) => readSafetensors(file);

describe("gemma-ts train", () => {
  it("a run killed with SIGKILL and resumed logs the uninterrupted run's losses bit for bit and ends with its weights", async () => {
    const steps = 60;
    const args = (out: string) => [
      "train",
      "--preset", "gemma2-tiny",
      "--data", corpus.txt,
      "--text-unit", "paragraph",
      "--eval", corpus.evalTxt,
      "--eval-every", "6",
      "--out", out,
      "--steps", String(steps),
      "--batch-size", "4",
      "--seq-len", "32",
      "--lr", "3e-3",
      "--checkpoint-every", "3",
      "--seed", "7",
      "--threads", "1",
    ];
    const whole = join(folder, "whole");
    succeeded(cli(...args(whole)));

    const killed = join(folder, "killed");
    const child = spawn(process.execPath, [BIN, ...args(killed)], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const exit = exited(child);
    // Kill it once it has logged a step past its first checkpoint (step 3).
    let seen = 0;
    while (seen < 4) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      seen = lastLoggedStep(killed);
      if (child.exitCode !== null) break;
    }
    child.kill("SIGKILL");
    expect((await exit).signal, stderr).toBe("SIGKILL");
    const reached = lastLoggedStep(killed);
    expect(reached).toBeGreaterThanOrEqual(4);
    expect(reached).toBeLessThan(steps);
    expect(existsSync(join(killed, "model.safetensors"))).toBe(false);

    const resumed = succeeded(cli(...args(killed), "--resume"));
    expect(resumed.stdout).toMatch(/resuming .* from step \d+ of 60/);

    const expected = metrics(whole);
    const actual = metrics(killed);
    expect(expected.steps.map((record) => record.step)).toEqual(Array.from({ length: steps }, (_, i) => i + 1));
    // Exact equality of the numbers as written: JSON keeps every bit of a double.
    expect(actual.steps).toEqual(expected.steps);
    expect(actual.evals).toEqual(expected.evals);
    expect(expected.evals.map((record) => record.step)).toEqual([6, 12, 18, 24, 30, 36, 42, 48, 54, 60]);
    expect(expected.steps.at(-1)!.loss).toBeLessThan(expected.steps[0]!.loss - 0.5);
    expect(readFileSync(join(killed, "model.safetensors")).equals(readFileSync(join(whole, "model.safetensors")))).toBe(true);

    // The run's folder: the final Hugging Face model with its tokenizer, the plot, checkpoints.
    for (const file of ["config.json", "model.safetensors", "tokenizer.json", "run.json", "loss.svg"]) expect(existsSync(join(whole, file)), file).toBe(true);
    expect(readFileSync(join(whole, "loss.svg"), "utf8")).toMatch(/^<svg[^>]*>[\s\S]*<\/svg>$/);
    expect(readdirSync(whole).filter((name) => name.startsWith("checkpoint-")).sort()).toEqual(["checkpoint-57", "checkpoint-60"]);
    expect(readdirSync(join(whole, "checkpoint-60")).sort()).toEqual(["config.json", "generation_config.json", "model.safetensors", "optimizer.safetensors", "tokenizer.json", "trainer_state.json"]);

    // Resuming a finished run, with no flags but the folder, changes nothing.
    expect(succeeded(cli("train", "--out", whole, "--resume")).stdout).toMatch(/resuming .* from step 60 of 60/);
    expect(metrics(whole)).toEqual(expected);

    // eval of the final model over the evaluation file equals the run's last evaluation.
    const evaluation = JSON.parse(succeeded(cli("eval", "--model", whole, "--data", corpus.evalTxt, "--text-unit", "paragraph", "--seq-len", "32", "--batch-size", "4", "--threads", "1")).stdout);
    expect(Object.keys(evaluation).sort()).toEqual(["loss", "perplexity", "tokens"]);
    expect(evaluation.loss).toBeCloseTo(expected.evals.at(-1)!.eval_loss, 5);
    expect(evaluation.perplexity).toBeCloseTo(Math.exp(evaluation.loss), 6);
    expect(evaluation.tokens).toBeGreaterThan(1000);
  });

  it("the same text as .txt, .jsonl and .parquet gives the same shards and the same losses", () => {
    const runs = [corpus.txt, corpus.jsonl, corpus.parquet].map((data, i) => {
      const out = join(folder, `format-${i}`);
      succeeded(cli("train", "--preset", "gemma2-tiny", "--data", data, "--text-unit", "paragraph", "--out", out, "--steps", "4", "--batch-size", "2", "--seq-len", "32", "--threads", "1"));
      return out;
    });
    const files = (run: string) => ["tokenizer.json", "data/tokens-00000.bin", "data/lengths-00000.bin"].map((file) => readFileSync(join(run, file)));
    const [txt, ...others] = runs.map(files);
    for (const other of others) other.forEach((bytes, i) => expect(bytes.equals(txt![i]!)).toBe(true));
    const losses = runs.map((run) => metrics(run).steps);
    expect(losses[0]!.length).toBe(4);
    expect(losses[1]).toEqual(losses[0]);
    expect(losses[2]).toEqual(losses[0]);
  });

  it("--lora-rank trains only adapters, saves them in PEFT's layout, and the merged model scores as base + adapter", async () => {
    const base = join(folder, "lora-base");
    succeeded(cli("init", "--preset", "gemma2-tiny", "--out", base, "--seed", "3"));
    const out = join(folder, "lora");
    succeeded(cli("train", "--model", base, "--data", corpus.txt, "--text-unit", "paragraph", "--out", out, "--steps", "6", "--batch-size", "4", "--seq-len", "32", "--lr", "1e-2", "--lora-rank", "4", "--checkpoint-every", "3", "--threads", "1"));

    const config = JSON.parse(readFileSync(join(out, "adapter", "adapter_config.json"), "utf8"));
    expect(config).toMatchObject({ peft_type: "LORA", r: 4, lora_alpha: 8, task_type: "CAUSAL_LM", target_modules: ["q_proj", "k_proj", "v_proj", "o_proj"] });
    const adapter = await tensors(join(out, "adapter", "adapter_model.safetensors"));
    const layers = 4;
    expect(adapter.size).toBe(layers * 4 * 2);
    expect(adapter.get("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight")!.shape).toEqual([4, 64]);
    expect(adapter.get("base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight")!.shape).toEqual([64, 4]);
    // A checkpoint of a LoRA run holds the adapter, not the model.
    expect(readdirSync(join(out, "checkpoint-3")).sort()).toEqual(["adapter_config.json", "adapter_model.safetensors", "optimizer.safetensors", "tokenizer.json", "trainer_state.json"]);

    // The merged model differs from the base exactly in the adapted matrices.
    const before = await tensors(join(base, "model.safetensors"));
    const after = await tensors(join(out, "model.safetensors"));
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    for (const [name, tensor] of before) {
      const same = Buffer.from(after.get(name)!.data.buffer).equals(Buffer.from(tensor.data.buffer));
      expect(same, name).toBe(!/\.self_attn\.[qkvo]_proj\.weight$/.test(name));
    }

    // A LoRA run resumes from its adapter checkpoint too: drop the last one and run again.
    const finished = { metrics: metrics(out), adapter: readFileSync(join(out, "adapter", "adapter_model.safetensors")) };
    rmSync(join(out, "checkpoint-6"), { recursive: true });
    expect(succeeded(cli("train", "--out", out, "--resume")).stdout).toMatch(/from step 3 of 6/);
    expect(metrics(out)).toEqual(finished.metrics);
    expect(readFileSync(join(out, "adapter", "adapter_model.safetensors")).equals(finished.adapter)).toBe(true);

    const evaluate = (...args: string[]) => JSON.parse(succeeded(cli("eval", "--data", corpus.evalTxt, "--text-unit", "paragraph", "--seq-len", "32", "--threads", "1", ...args)).stdout);
    const merged = evaluate("--model", out);
    const withAdapter = evaluate("--model", base, "--adapter", join(out, "adapter"), "--tokenizer", join(out, "tokenizer.json"));
    const plain = evaluate("--model", base, "--tokenizer", join(out, "tokenizer.json"));
    expect(merged.tokens).toBe(withAdapter.tokens);
    expect(Math.abs(merged.loss - withAdapter.loss)).toBeLessThan(1e-5);
    expect(withAdapter.loss).toBeLessThan(plain.loss - 0.01);
  });

  it("--teacher distils online from a model's whole distribution: a teacher equal to the student gives no gradient; another tokenizer is refused", () => {
    const tokenized = join(folder, "teacher-tokenizer");
    succeeded(cli("train", "--preset", "gemma2-tiny", "--data", corpus.txt, "--text-unit", "paragraph", "--out", tokenized, "--steps", "1", "--batch-size", "2", "--seq-len", "8", "--threads", "1"));
    // The teacher is the student's own initial weights (init and train draw them alike from the seed).
    const teacher = join(folder, "teacher-self");
    succeeded(cli("init", "--preset", "gemma2-tiny", "--out", teacher, "--seed", "5"));
    cpSync(join(tokenized, "tokenizer.json"), join(teacher, "tokenizer.json"));
    const student = (out: string, kdWeight: string) =>
      cli("train", "--preset", "gemma2-tiny", "--teacher", teacher, "--kd-weight", kdWeight, "--data", corpus.txt, "--text-unit", "paragraph", "--out", out, "--steps", "2", "--batch-size", "4", "--seq-len", "32", "--lr", "1e-2", "--seed", "5", "--threads", "1");
    const pure = join(folder, "online-kd");
    expect(succeeded(student(pure, "1")).stdout).toMatch(/distilled online from .*teacher-self \(the whole distribution, KD weight 1\)/);
    // Cross-entropy against its own distribution is at its minimum: the first step's gradient vanishes,
    // and the loss is the student's entropy, below the uniform distribution's log V.
    const records = readFileSync(join(pure, "metrics.jsonl"), "utf8").split("\n").filter(Boolean).map((line) => JSON.parse(line) as { grad_norm?: number; loss?: number });
    expect(records[0]!.grad_norm!).toBeLessThan(1e-4);
    expect(records[0]!.loss!).toBeLessThan(Math.log(512));
    // Half labels: the labels' gradient alone, so not zero.
    const mixed = join(folder, "online-mixed");
    succeeded(student(mixed, "0.5"));
    const first = JSON.parse(readFileSync(join(mixed, "metrics.jsonl"), "utf8").split("\n")[0]!) as { grad_norm: number };
    expect(first.grad_norm).toBeGreaterThan(1e-2);

    // A teacher whose tokenizer was trained on other text.
    const other = join(folder, "teacher-other-tokenizer");
    succeeded(cli("train", "--preset", "gemma2-tiny", "--data", corpus.evalTxt, "--text-unit", "paragraph", "--out", other, "--steps", "1", "--batch-size", "2", "--seq-len", "8", "--threads", "1"));
    const refused = cli("train", "--preset", "gemma2-tiny", "--teacher", other, "--tokenizer", join(tokenized, "tokenizer.json"), "--data", corpus.txt, "--out", join(folder, "refused"), "--steps", "2", "--batch-size", "2", "--seq-len", "8");
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/^gemma-ts: --teacher .* has another tokenizer than this run/);
  });

  it("bad flags and misuse end with one line naming the problem", () => {
    const run = join(folder, "flags-run");
    succeeded(cli("train", "--preset", "gemma2-tiny", "--data", corpus.txt, "--out", run, "--steps", "1", "--batch-size", "4", "--seq-len", "8", "--threads", "1"));
    const untokenized = join(folder, "flags-base");
    succeeded(cli("init", "--preset", "gemma2-tiny", "--out", untokenized));
    const cases: [string[], RegExp][] = [
      [["train", "--out", join(folder, "x"), "--data", corpus.txt, "--steps", "2", "--batch-size", "2", "--seq-len", "8"], /train needs --preset NAME or --model DIR/],
      [["train", "--preset", "gemma2-tiny", "--out", join(folder, "x"), "--data", corpus.txt, "--batch-size", "2", "--seq-len", "8"], /train needs --steps/],
      [["train", "--preset", "gemma2-tiny", "--out", join(folder, "x"), "--data", corpus.txt, "--steps", "0"], /--steps must be a positive integer, got '0'/],
      [["train", "--preset", "nope", "--out", join(folder, "x")], /--preset <name>' argument 'nope' is invalid/],
      [["train", "--preset", "gemma2-tiny", "--model", run, "--out", join(folder, "x")], /cannot be used with/],
      [["train", "--preset", "gemma2-tiny", "--out", join(folder, "x"), "--data", join(folder, "data.csv"), "--steps", "2", "--batch-size", "2", "--seq-len", "8"], /data\.csv: unknown file type/],
      [["train", "--preset", "gemma2-tiny", "--out", join(folder, "x"), "--data", corpus.txt, "--steps", "2", "--batch-size", "2", "--seq-len", "999"], /--seq-len 999 is longer than the model's 256 positions/],
      [["train", "--preset", "gemma2-tiny", "--out", join(folder, "x"), "--data", corpus.txt, "--steps", "2", "--batch-size", "2", "--seq-len", "8", "--lora-alpha", "4"], /--lora-alpha needs --lora-rank/],
      [["train", "--preset", "gemma2-tiny", "--out", join(folder, "x"), "--data", corpus.txt, "--steps", "2", "--batch-size", "2", "--seq-len", "8", "--lora-rank", "2", "--lora-modules", "q_proj,wq"], /--lora-modules: 'wq' is not one of/],
      [["train", "--preset", "gemma2-tiny", "--out", run, "--data", corpus.txt, "--steps", "2", "--batch-size", "2", "--seq-len", "8"], /already holds a training run .*--resume/],
      [["train", "--out", run, "--resume", "--batch-size", "8"], /--batch-size 8 differs from the run's 4/],
      [["train", "--out", join(folder, "nothing"), "--resume"], /holds no run to resume/],
      [["eval", "--model", untokenized, "--data", corpus.evalTxt], /has no tokenizer\.json; give --tokenizer/],
      [["eval", "--model", run, "--data", corpus.evalTxt, "--seq-len", "-3"], /--seq-len must be a positive integer/],
    ];
    for (const [args, message] of cases) {
      const result = cli(...args);
      expect(result.status, args.join(" ")).toBe(1);
      expect(result.stderr, args.join(" ")).toMatch(/^gemma-ts: [^\n]+\n$/);
      expect(result.stderr, args.join(" ")).toMatch(message);
    }
  });
});
