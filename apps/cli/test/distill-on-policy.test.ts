// gemma-ts distill on-policy, run as a user runs it (the built binary): a random gemma2-tiny
// student distils from another random one sharing its tokenizer for a few steps of chat prompts,
// printing each step and writing metrics.jsonl and the trained student; the teacher served with an
// API key, or exported as an ONNX folder, gives the same losses; a run resumed from its latest
// checkpoint logs the uninterrupted run's metrics and ends with its weights, byte for byte; a
// teacher of another tokenizer, a refused key, a prompts file without chats, a resumed run with
// another setting and a second run into the same folder are refused in one line.
import { spawnSync } from "node:child_process";
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { HostTensor, initParams, presetConfig, warmupCosine } from "@gemma-ts/core";
import { loadHfCheckpoint, loadTrainingState, OPTIMIZER_FILE, saveHfCheckpoint, writeSafetensors } from "@gemma-ts/core/node";
import { closeServedModel, createServer, loadServedModel } from "@gemma-ts/serve/http";
import { trainBpe } from "@gemma-ts/tokenizer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeTestModel } from "./support/test-model.js";
import { cliAsync } from "./support/cli-process.js";

const BIN = fileURLToPath(new URL("../dist/main.js", import.meta.url));
const folder = mkdtempSync(join(tmpdir(), "gemma-ts-on-policy-"));
const teacher = join(folder, "teacher");
const student = join(folder, "student");
const prompts = join(folder, "prompts.jsonl");

function cli(...args: string[]) {
  const result = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8" });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** The CLI without blocking this process, which may be serving the teacher. */
const metricsOf = (out: string) =>
  readFileSync(join(out, "metrics.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as { step: number; loss: number; tokens: number; onPolicy: boolean; lr: number });

const onPolicyArgs = (out: string, ...more: string[]) => [
  "distill", "on-policy",
  "--student", student,
  "--teacher", teacher,
  "--prompts", prompts,
  "--out", out,
  "--steps", "3",
  "--batch-size", "2",
  "--max-new-tokens", "6",
  "--top-k", "8",
  "--lr", "0.001",
  "--threads", "1",
  ...more,
];

beforeAll(async () => {
  await writeTestModel(teacher);
  const config = { ...presetConfig("gemma2-tiny"), vocabSize: 1000 };
  mkdirSync(student, { recursive: true });
  await saveHfCheckpoint(student, config, initParams(config, 1));
  cpSync(join(teacher, "tokenizer.json"), join(student, "tokenizer.json"));
  const chats = [
    ["What is the state of the union?", "The state of the union is strong."],
    ["Name a duty of Congress.", "Congress makes the laws."],
    ["Who gives the address?", "The President gives it."],
  ].map(([user, assistant]) => JSON.stringify({ messages: [{ role: "user", content: user }, { role: "assistant", content: assistant }] }));
  writeFileSync(prompts, `${chats.join("\n")}\n`);
}, 120_000);

afterAll(() => rmSync(folder, { recursive: true, force: true }));

describe("gemma-ts distill on-policy", () => {
  it("trains the student a few steps, printing each and writing metrics.jsonl and the model", async () => {
    const out = join(folder, "run");
    const result = cli(...onPolicyArgs(out, "--lambda", "0.5", "--beta", "0.5"));
    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/3 prompts \(3 with responses\), 3 steps of 2, lambda 0.5, beta 0.5, top-8/);
    expect(result.stderr).toMatch(/step 3\/3: jsd \d+\.\d{4} over \d+ (sampled|dataset) tokens/);
    expect(result.stdout).toMatch(/^distilled 3 steps into .*: last jsd \d+\.\d{4}\n$/);
    const records = metricsOf(out);
    expect(records.map((record) => record.step)).toEqual([0, 1, 2]);
    // Seed 0 at lambda 0.5 draws both kinds of step in these three.
    expect(new Set(records.map((record) => record.onPolicy))).toEqual(new Set([true, false]));
    for (const record of records) {
      expect(Number.isFinite(record.loss) && record.loss >= 0).toBe(true);
      expect(record.tokens).toBeGreaterThan(0);
    }
    const before = await loadHfCheckpoint(student);
    const after = await loadHfCheckpoint(out);
    expect(after.config).toEqual(before.config);
    const name = "model.embed_tokens.weight";
    expect(after.params.get(name)!.data).not.toEqual(before.params.get(name)!.data);
    expect(readFileSync(join(out, "tokenizer.json"))).toEqual(readFileSync(join(student, "tokenizer.json")));
  }, 60_000);

  it("takes the teacher from an OpenAI-compatible endpoint (gemma-ts serve's, with an API key) or an exported ONNX folder, with the local run's losses", async () => {
    const local = join(folder, "local");
    expect(cli(...onPolicyArgs(local)).status).toBe(0);
    const sameLosses = (out: string) => {
      const [fromLocal, other] = [metricsOf(local), metricsOf(out)];
      expect(other.map((record) => [record.onPolicy, record.tokens])).toEqual(fromLocal.map((record) => [record.onPolicy, record.tokens]));
      other.forEach((record, i) => expect(record.loss).toBeCloseTo(fromLocal[i]!.loss, 4));
    };
    const model = await loadServedModel(teacher, { id: "teacher", threads: 1, maxBatchSize: 8 });
    const apiKey = "on-policy-test-key";
    const server = createServer({ models: [model], apiKey });
    try {
      const { url } = await server.listen(0, "127.0.0.1");
      const remote = join(folder, "remote");
      const context = String(presetConfig("gemma2-tiny").maxPositionEmbeddings);
      const result = await cliAsync(...onPolicyArgs(remote, "--teacher", `${url}/v1`, "--teacher-context", context, "--api-key", apiKey));
      expect(result.status, result.stderr).toBe(0);
      expect(result.stderr + result.stdout).not.toContain(apiKey);
      sameLosses(remote);
      const refused = await cliAsync(...onPolicyArgs(join(folder, "refused-key"), "--teacher", `${url}/v1`, "--teacher-context", context, "--api-key", "not-the-key"));
      expect(refused.status).toBe(1);
      expect(refused.stderr).toMatch(/^gemma-ts: [^\n]*\/v1\/models: HTTP 401: the endpoint refused the API key[^\n]*--api-key[^\n]*\n$/);
      expect(refused.stderr).not.toContain("not-the-key");
    } finally {
      await server.close();
      await closeServedModel(model);
    }
    const onnx = join(folder, "teacher-onnx");
    expect(cli("convert", "--from", teacher, "--to-onnx", onnx).status).toBe(0);
    const fromOnnx = join(folder, "from-onnx");
    const result = cli(...onPolicyArgs(fromOnnx, "--teacher", onnx));
    expect(result.status, result.stderr).toBe(0);
    sameLosses(fromOnnx);
  }, 90_000);

  it("resumes from its latest checkpoint with the uninterrupted run's metrics.jsonl and model.safetensors, byte for byte", async () => {
    const args = (out: string, ...more: string[]) => onPolicyArgs(out, "--steps", "4", "--checkpoint-every", "2", ...more);
    const whole = join(folder, "whole");
    expect(cli(...args(whole)).status).toBe(0);
    const records = metricsOf(whole);
    // The rate follows the schedule: one warmup step to --lr, then the cosine down to --lr / 10.
    expect(records.map((record) => record.lr)).toEqual([0, 1, 2, 3].map(warmupCosine({ maxLr: 0.001, minLr: 0.0001, warmupSteps: 1, totalSteps: 4 })));
    // Equal logs mean something only if the losses move, and both kinds of step come after the checkpoint.
    expect(new Set(records.map((record) => record.loss)).size).toBe(4);
    expect(new Set(records.slice(2).map((record) => record.onPolicy))).toEqual(new Set([true, false]));

    // A run that died after its checkpoint at step 2: the final checkpoint and weights missing, a
    // step logged past the checkpoint with a torn line after it, a checkpoint half written.
    const killed = join(folder, "killed");
    cpSync(whole, killed, { recursive: true });
    expect((await loadTrainingState(join(killed, "checkpoint-2"))).step).toBe(2);
    for (const name of ["checkpoint-4", "model.safetensors", "config.json"]) rmSync(join(killed, name), { recursive: true });
    writeFileSync(join(killed, "metrics.jsonl"), readFileSync(join(whole, "metrics.jsonl"), "utf8").split("\n").slice(0, 3).join("\n"));
    appendFileSync(join(killed, "metrics.jsonl"), '\n{"step": 3, "lo');
    mkdirSync(join(killed, ".checkpoint-4.partial"));
    // Without --resume the folder is refused; a bare --resume takes every setting from run.json.
    const again = cli(...args(killed));
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(/^gemma-ts: [^\n]*already holds an on-policy run[^\n]*--resume[^\n]*\n$/);
    const zeroed = join(folder, "zeroed-moments");
    cpSync(killed, zeroed, { recursive: true });
    const resumed = cli("distill", "on-policy", "--out", killed, "--resume");
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/resuming .* from step 2 of 4/);
    expect(resumed.stdout).toMatch(/^distilled 2 steps into .* \(resumed at step 2\): last jsd \d+\.\d{4}\n$/);
    expect(readFileSync(join(killed, "metrics.jsonl"), "utf8")).toBe(readFileSync(join(whole, "metrics.jsonl"), "utf8"));
    expect(readFileSync(join(killed, "model.safetensors")).equals(readFileSync(join(whole, "model.safetensors")))).toBe(true);
    expect(readFileSync(join(killed, "checkpoint-4", OPTIMIZER_FILE)).equals(readFileSync(join(whole, "checkpoint-4", OPTIMIZER_FILE)))).toBe(true);

    // The moments matter: the same checkpoint with AdamW's moments zeroed gives another step 3.
    const state = await loadTrainingState(join(zeroed, "checkpoint-2"));
    const zeros: [string, HostTensor][] = [...state.optimizer.moments].flatMap(([name, { first }]) =>
      (["first", "second"] as const).map((kind): [string, HostTensor] => [`${kind}.${name}`, HostTensor.float32([first.length])]),
    );
    await writeSafetensors(join(zeroed, "checkpoint-2", OPTIMIZER_FILE), zeros);
    expect(cli("distill", "on-policy", "--out", zeroed, "--resume").status).toBe(0);
    const withoutMoments = metricsOf(zeroed);
    expect(withoutMoments[2]).toEqual(records[2]);
    expect(withoutMoments[3]!.loss).not.toBe(records[3]!.loss);

    const otherLr = cli(...args(killed, "--resume", "--lr", "0.002"));
    expect(otherLr.status).toBe(1);
    expect(otherLr.stderr).toMatch(/^gemma-ts: --lr 0\.002 differs from the run's 0\.001 [^\n]*run\.json[^\n]*\n$/);
  }, 90_000);

  it("refuses a teacher of another tokenizer and a prompts file without chats, in one line", async () => {
    const other = join(folder, "other-teacher");
    cpSync(teacher, other, { recursive: true });
    const trained = await trainBpe(["a few words of some other text, tokenized differently"], { vocabSize: 400 });
    writeFileSync(join(other, "tokenizer.json"), trained.toJsonString());
    const mismatch = cli(...onPolicyArgs(join(folder, "refused"), "--teacher", other));
    expect(mismatch.status).toBe(1);
    expect(mismatch.stderr).toMatch(/^gemma-ts: [^\n]*tokenizer[^\n]*share the student's vocabulary\n$/);

    const texts = join(folder, "texts.jsonl");
    writeFileSync(texts, `${JSON.stringify({ text: "not a chat" })}\n`);
    const notChat = cli(...onPolicyArgs(join(folder, "refused"), "--prompts", texts));
    expect(notChat.status).toBe(1);
    expect(notChat.stderr).toMatch(/^gemma-ts: [^\n]*document 1 is not a chat[^\n]*\n$/);
  }, 60_000);
});
