// The serving commands, run as a user runs them (the built binary): generate prints the engine's
// own greedy text, chat keeps a multi-turn conversation on stdin/stdout, serve answers HTTP and
// exits 0 on SIGTERM; a folder without tokenizer.json gets a one-line error.
import { spawn, spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chatPromptIds, completionPromptIds, type CompletionRequest } from "@gemma-ts/serve";
import { closeServedModel, loadServedModel, type ServedModel } from "@gemma-ts/serve/http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeTestModel } from "./support/test-model.js";

const BIN = fileURLToPath(new URL("../dist/main.js", import.meta.url));
const root = mkdtempSync(join(tmpdir(), "gemma-ts-cli-serving-"));
const folder = join(root, "tiny");
let model: ServedModel;

function cli(args: string[], input?: string) {
  const result = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", input: input ?? "", timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** What the engine itself produces for a request, as one string. */
async function engineText(request: CompletionRequest): Promise<string> {
  let text = "";
  for await (const chunk of model.engine.complete(request).chunks) text += chunk.text;
  return text;
}

beforeAll(async () => {
  await writeTestModel(folder);
  model = await loadServedModel(folder, { maxBatchSize: 1, threads: 1 });
});
afterAll(async () => {
  await closeServedModel(model);
  rmSync(root, { recursive: true, force: true });
});

describe("gemma-ts generate", () => {
  const prompt = "Fellow citizens of the Senate";

  it("prints the engine's greedy completion of <bos> + prompt", async () => {
    const expected = await engineText({ promptIds: completionPromptIds(model.tokenizer, prompt), maxTokens: 20, sampling: { temperature: 0 } });
    const result = cli(["generate", "--model", folder, "--prompt", prompt, "--temperature", "0", "--max-tokens", "20"]);
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    expect(result.stdout).toBe(`${expected}\n`);
  });

  it("stops before --stop, and repeats itself for a fixed --seed", async () => {
    const full = cli(["generate", "--model", folder, "--prompt", prompt, "--temperature", "0", "--max-tokens", "30"]).stdout.slice(0, -1);
    const stop = full.slice(10, 13);
    const stopped = cli(["generate", "--model", folder, "--prompt", prompt, "--temperature", "0", "--max-tokens", "30", "--stop", stop, "--stop", "\u0001"]);
    expect(stopped.stdout).toBe(`${full.slice(0, full.indexOf(stop))}\n`);
    const seeded = ["generate", "--model", folder, "--prompt", prompt, "--seed", "11", "--max-tokens", "12"];
    expect(cli(seeded).stdout).toBe(cli(seeded).stdout);
  });

  it("needs tokenizer.json in the folder, and says so in one line", () => {
    const bare = join(root, "bare");
    cpSync(folder, bare, { recursive: true, filter: (path) => !path.endsWith("tokenizer.json") });
    const result = cli(["generate", "--model", bare, "--prompt", "x"]);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/^gemma-ts: .*has no tokenizer\.json.*\n$/);
    expect(cli(["generate", "--model", folder, "--prompt", "x", "--top-p", "2"]).stderr).toMatch(/--top-p must be/);
  });
});

describe("gemma-ts chat", () => {
  it("answers each line with the chat template over the whole history, until /exit", async () => {
    const sampling = { temperature: 0 };
    const first = await engineText({ promptIds: chatPromptIds(model.tokenizer, [{ role: "user", content: "Hello there" }]), maxTokens: 15, sampling });
    const second = await engineText({
      promptIds: chatPromptIds(model.tokenizer, [
        { role: "user", content: "Hello there" },
        { role: "assistant", content: first },
        { role: "user", content: "Tell me more" },
      ]),
      maxTokens: 15,
      sampling,
    });
    const result = cli(["chat", "--model", folder, "--temperature", "0", "--max-tokens", "15"], "Hello there\nTell me more\n/exit\nnot read\n");
    expect(result.status).toBe(0);
    expect(result.stdout).toBe(`${first}\n${second}\n`);
  });

  it("quits at end of input, and /reset forgets the conversation", async () => {
    const first = cli(["chat", "--model", folder, "--temperature", "0", "--max-tokens", "8"], "Hello there\n").stdout;
    const afterReset = cli(["chat", "--model", folder, "--temperature", "0", "--max-tokens", "8"], "Something else\n/reset\nHello there\n");
    expect(afterReset.status).toBe(0);
    expect(afterReset.stdout.endsWith(first)).toBe(true);
  });
});

describe("gemma-ts serve", () => {
  it("serves the folder under its name, answers a completion, and exits 0 on SIGTERM", async () => {
    const child = spawn(process.execPath, [BIN, "serve", "--model", folder, "--port", "0", "--threads", "1"], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (data: Buffer) => (stderr += data.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    const url = await new Promise<string>((resolve, reject) => {
      let stdout = "";
      child.stdout.on("data", (data: Buffer) => {
        stdout += data.toString();
        const match = /at (http:\/\/\S+)\/v1/.exec(stdout);
        if (match) resolve(match[1]!);
      });
      child.on("exit", () => reject(new Error(`serve exited early: ${stderr}`)));
    });
    try {
      expect(await (await fetch(`${url}/health`)).json()).toMatchObject({ status: "ok", models: [{ id: "tiny" }] });
      const response = await fetch(`${url}/v1/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "tiny", prompt: "The Union", max_tokens: 5, temperature: 0 }),
      });
      expect(response.status).toBe(200);
      const body = (await response.json()) as { choices: { text: string }[] };
      expect(body.choices[0]!.text).toBe(await engineText({ promptIds: completionPromptIds(model.tokenizer, "The Union"), maxTokens: 5, sampling: { temperature: 0 } }));
    } finally {
      child.kill("SIGTERM");
    }
    expect(await exited).toBe(0);
    expect(stderr).toBe("");
  });

  it("serves every folder of --model-dir and refuses names outside it", async () => {
    const child = spawn(process.execPath, [BIN, "serve", "--model-dir", root, "--port", "0", "--threads", "1"], { stdio: ["ignore", "pipe", "pipe"] });
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    const url = await new Promise<string>((resolve) => {
      let stdout = "";
      child.stdout.on("data", (data: Buffer) => {
        stdout += data.toString();
        const match = /at (http:\/\/\S+)\/v1/.exec(stdout);
        if (match) resolve(match[1]!);
      });
    });
    try {
      const ask = (name: string) =>
        fetch(`${url}/v1/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: name, prompt: "The", max_tokens: 2 }) });
      expect((await ask("tiny")).status).toBe(200);
      expect((await ask("../tiny")).status).toBe(404);
    } finally {
      child.kill("SIGTERM");
    }
    expect(await exited).toBe(0);
  });
});
