// gemma-ts recipe on a config small enough for a test, run as a user runs it (the built binary):
// every stage leaves its folder, report.json has the stages the report needs with their figures,
// report.html renders in headless Chromium with its charts and no console error, a rerun skips
// every finished stage, and a config with a mistake is refused naming it. The figures of so short
// a run mean nothing; the default config's are in docs/post-training.md.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import OpenAI from "openai";
import puppeteer from "puppeteer-core";
import { afterAll, describe, expect, it } from "vitest";

const BIN = fileURLToPath(new URL("../dist/main.js", import.meta.url));
const CONFIG = fileURLToPath(new URL("./fixtures/quick-recipe.json", import.meta.url));
const CHROMIUM = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].find((path) => existsSync(path));
const folder = mkdtempSync(join(tmpdir(), "gemma-ts-recipe-"));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

function cli(...args: string[]) {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", maxBuffer: 1 << 26 });
}

interface Report {
  stages: { name: string; model: string; true_reward: number; rm_score: number; held_out_perplexity: number }[];
  reward_model: { held_out_accuracy: number | null };
  curves: { loss: { stage: string }[]; rl: { run: string; kl: number }[] };
}

describe("gemma-ts recipe", () => {
  const out = join(folder, "recipe");

  it("runs every stage and writes report.json and report.html", () => {
    const run = cli("recipe", "--config", CONFIG, "--out", out);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/\[1\/11\] data/);
    expect(run.stdout).toMatch(/serve the final model: pnpm gemma-ts serve --model .*averaged/);
    const report = JSON.parse(readFileSync(join(out, "report.json"), "utf8")) as Report;
    const names = report.stages.map((stage) => stage.name);
    for (const name of ["pretrained", "sft", "on-policy", "rlhf-1", "rlhf-2", "averaged"]) expect(names).toContain(name);
    for (const stage of report.stages) {
      expect(existsSync(join(out, stage.model, "model.safetensors"))).toBe(true);
      expect(stage.true_reward).toBeGreaterThanOrEqual(0);
      expect(stage.true_reward).toBeLessThanOrEqual(1);
      expect(Number.isFinite(stage.rm_score)).toBe(true);
      expect(stage.held_out_perplexity).toBeGreaterThan(1);
    }
    const lossStages = new Set(report.curves.loss.map((point) => point.stage));
    for (const stage of ["teacher", "teacher-sft", "pretrained", "sft", "on-policy", "rlhf-1", "rlhf-2"]) expect(lossStages).toContain(stage);
    expect(report.curves.rl.filter((point) => point.run === "rlhf-2")).toHaveLength(3);
    // The reward model's folder is transformers' sequence classifier.
    expect(JSON.parse(readFileSync(join(out, "reward-model", "config.json"), "utf8")).architectures).toEqual(["Gemma2ForSequenceClassification"]);
    const score = cli("reward", "--model", join(out, "reward-model"), "--prompt", "What is 2 + 3?", "--response", "5");
    expect(score.status, score.stderr).toBe(0);
    expect(Number.isFinite(JSON.parse(score.stdout).score)).toBe(true);
   }, 600_000);

  it.skipIf(CHROMIUM === undefined)("report.html renders its charts in headless Chromium without console errors", async () => {
    const browser = await puppeteer.launch({ executablePath: CHROMIUM!, headless: true, args: ["--no-sandbox", "--disable-gpu"] });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on("console", (message) => {
        if (message.type() === "error") errors.push(message.text());
      });
      page.on("pageerror", (error) => errors.push(String(error)));
      await page.setViewport({ width: 1200, height: 900 });
      await page.goto(pathToFileURL(join(out, "report.html")).href, { waitUntil: "load" });
      const charts = await page.$$eval("figure", (figures) => figures.map((figure) => ({ id: figure.id, marks: figure.querySelectorAll("svg path, svg line, svg rect").length, height: figure.getBoundingClientRect().height })));
      expect(charts.map((chart) => chart.id)).toEqual(["rewards", "rl", "losses"]);
      for (const chart of charts) {
        expect(chart.marks, chart.id).toBeGreaterThan(10);
        expect(chart.height, chart.id).toBeGreaterThan(100);
      }
      const screenshot = await page.screenshot({ fullPage: true, type: "png" });
      writeFileSync(join(folder, "report.png"), screenshot);
      // A blank page compresses to almost nothing; charts and tables do not.
      expect(screenshot.length).toBeGreaterThan(50_000);
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  });

  it("serves the final model, which answers a task prompt through the openai client as the evaluation saw it", async () => {
    const evaluation = JSON.parse(readFileSync(join(out, "evaluation", "averaged.json"), "utf8")) as { examples: { prompt: string; reply: string }[] };
    const child = spawn(process.execPath, [BIN, "serve", "--model", join(out, "averaged"), "--port", "0", "--threads", "1"], { stdio: ["ignore", "pipe", "pipe"] });
    const url = await new Promise<string>((resolve, reject) => {
      let stdout = "";
      child.stdout.on("data", (data: Buffer) => {
        stdout += data.toString();
        const match = /at (http:\/\/\S+\/v1)/.exec(stdout);
        if (match) resolve(match[1]!);
      });
      child.on("exit", () => reject(new Error("serve exited early")));
    });
    try {
      const client = new OpenAI({ baseURL: url, apiKey: "unused", maxRetries: 0 });
      for (const { prompt, reply } of evaluation.examples.slice(0, 3)) {
        const completion = await client.chat.completions.create({ model: "averaged", messages: [{ role: "user", content: prompt }], temperature: 0, max_tokens: 6 });
        expect(completion.choices[0]!.message.content).toBe(reply);
      }
      // Behavioural cloning from an endpoint teacher: `gemma-ts sft --teacher URL` asks it for the replies it learns.
      const cloned = join(folder, "cloned");
      const sft = cli("sft", "--model", join(out, "pretrained"), "--out", cloned, "--tasks", join(out, "data", "tasks-eval.jsonl"), "--teacher", url, "--teacher-model", "averaged", "--max-new-tokens", "6", "--steps", "2", "--batch-size", "2", "--threads", "1");
      expect(sft.status, sft.stderr).toBe(0);
      const chats = readFileSync(join(cloned, "sft-data", "chats.jsonl"), "utf8").trim().split("\n").map((line) => JSON.parse(line) as { messages: { content: string }[] });
      for (const { prompt, reply } of evaluation.examples.slice(0, 3)) {
        expect(chats.find((chat) => chat.messages[0]!.content === prompt)!.messages[1]!.content).toBe(reply);
      }
    } finally {
      child.kill("SIGTERM");
    }
  });

  it("skips every finished stage on a rerun", () => {
    const run = cli("recipe", "--config", CONFIG, "--out", out);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).not.toMatch(/step \d+\/\d+/);
    expect(run.stdout).toMatch(/averaged\s+true reward/);
  });

  it("refuses a config with a mistake, naming it, and another config for the same folder", () => {
    const bad = join(folder, "bad.json");
    writeFileSync(bad, JSON.stringify({ rlhf: { k: 1 }, sft: { stpes: 10 } }));
    const refused = cli("recipe", "--config", bad, "--out", join(folder, "other"));
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/rlhf\.k/);
    expect(refused.stderr).toMatch(/stpes/);
    const changed = join(folder, "changed.json");
    writeFileSync(changed, JSON.stringify({ ...JSON.parse(readFileSync(CONFIG, "utf8")), seed: 5 }));
    const mismatch = cli("recipe", "--config", changed, "--out", out);
    expect(mismatch.status).toBe(1);
    expect(mismatch.stderr).toMatch(/differs/);
  });
});
