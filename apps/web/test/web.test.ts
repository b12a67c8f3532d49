// The page in Debian's headless Chromium, on its SwiftShader WebGPU adapter, driven by Playwright:
// it loads a gemma2-tiny folder by URL, streams a chat reply, fine-tunes on pasted text with the
// loss falling on the chart, logs no console error, and says so plainly where WebGPU is missing.
// The built page (dist/, `vite build`, which turbo runs before the tests) is served from a local
// HTTP server: WebGPU needs a secure context, which localhost is.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import { initParams, presetConfig } from "@gemma-ts/core";
import { saveHfCheckpoint } from "@gemma-ts/core/node";
import { GEMMA_SPECIAL_TOKENS, trainBpe } from "@gemma-ts/tokenizer";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const CHROMIUM = "/usr/bin/chromium";
const DIST = fileURLToPath(new URL("../dist", import.meta.url));
const OUTPUT = fileURLToPath(new URL("../test-output", import.meta.url));
// As the machine's own probe starts it: no sandbox (root), nothing reaching for the network.
const FLAGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"];
const TEXT = "The people of the nation built roads and schools. The people of the nation built ports and railways. ".repeat(12);

const folder = mkdtempSync(join(tmpdir(), "gemma-ts-web-"));
let server: Server;
let origin = "";

const CONTENT_TYPES: Record<string, string> = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".json": "application/json" };

/** dist/ at /, the model folder at /model/. */
function serve(): Promise<void> {
  server = createServer((request, response) => {
    const path = decodeURIComponent(new URL(request.url ?? "/", "http://localhost").pathname);
    const [root, rest] = path.startsWith("/model/") ? [join(folder, "model"), path.slice("/model/".length)] : [DIST, path === "/" ? "index.html" : path.slice(1)];
    const file = normalize(join(root, rest));
    if (!file.startsWith(root) || !existsSync(file) || !statSync(file).isFile()) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { "content-type": CONTENT_TYPES[extname(file)] ?? "application/octet-stream" });
    response.end(request.method === "HEAD" ? undefined : readFileSync(file));
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => {
      origin = `http://localhost:${(server.address() as { port: number }).port}`;
      resolve();
    }),
  );
}

beforeAll(async () => {
  // A gemma2-tiny folder: random weights and a 512-token vocabulary trained on the page's text.
  const config = presetConfig("gemma2-tiny");
  const trained = await trainBpe([TEXT, "Hello there, how are you today? Tell me about the nation."], {
    vocabSize: config.vocabSize,
    specialTokens: [...GEMMA_SPECIAL_TOKENS, "<start_of_turn>", "<end_of_turn>"],
  });
  await saveHfCheckpoint(join(folder, "model"), config, initParams(config, 11));
  writeFileSync(join(folder, "model", "tokenizer.json"), trained.toJsonString());
  await serve();
});

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  rmSync(folder, { recursive: true, force: true });
});

async function launch(webgpu: boolean): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: [...FLAGS, ...(webgpu ? ["--enable-unsafe-webgpu"] : [])] });
}

describe.skipIf(!existsSync(CHROMIUM) || !existsSync(DIST))("apps/web in headless Chromium", () => {
  it("loads a model by URL, streams a chat reply, fine-tunes with a falling loss, without console errors", async () => {
    const browser = await launch(true);
    try {
      const page = await browser.newPage({ viewport: { width: 1100, height: 1000 } });
      const errors: string[] = [];
      page.on("console", (entry) => {
        if (entry.type() === "error") errors.push(entry.text());
      });
      page.on("pageerror", (error) => errors.push(error.message));
      await page.goto(`${origin}/`);
      await page.waitForSelector("body[data-state=idle]");
      expect(await page.textContent("#gpu-status")).toMatch(/WebGPU adapter/);

      await page.click("#load-url button");
      await page.waitForSelector("body[data-state=ready]", { timeout: 60_000 });
      expect(await page.textContent("#model-status")).toMatch(/Loaded: 0\.\d+M parameters, 4 layers, vocabulary of 512/);

      await page.fill("#chat-input", "Hello there, how are you today?");
      await page.fill("#max-tokens", "16");
      await page.click("#send");
      // Random weights: a reply of 16 tokens, mostly byte-fallback ones.
      const first = await page.waitForSelector(".turn.model[data-done=true]", { timeout: 120_000 });
      expect((await first.textContent())!.length).toBeGreaterThan(0);

      await page.fill("#train-text", TEXT);
      await page.fill("#steps", "16");
      await page.fill("#lr", "0.01");
      await page.click("#train");
      await page.waitForSelector("body[data-state=training]");
      await page.waitForSelector("body[data-state=ready]", { timeout: 300_000 });
      expect(await page.textContent("#train-status")).toMatch(/Done/);
      const losses = JSON.parse((await page.getAttribute("#loss-chart", "data-losses"))!) as number[];
      expect(losses).toHaveLength(16);
      const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
      expect(mean(losses.slice(-4))).toBeLessThan(mean(losses.slice(0, 4)) - 0.5);
      expect(await page.locator("#loss-chart canvas").count()).toBeGreaterThan(0);

      // The fine-tuned model answers in the words it was trained on, streamed: the reply grew in
      // several pieces, not in one write at the end.
      await page.fill("#chat-input", "Tell me about the nation.");
      await page.click("#send");
      const reply = await page.waitForSelector(".turn.model[data-done=true]", { timeout: 120_000 });
      expect(Number(await reply.getAttribute("data-pieces"))).toBeGreaterThan(1);
      expect(await reply.textContent()).toMatch(/people|nation|built|roads|schools|ports|railways/);

      mkdirSync(OUTPUT, { recursive: true });
      const screenshot = join(OUTPUT, "apps-web.png");
      await page.screenshot({ path: screenshot, fullPage: true });
      expect(statSync(screenshot).size).toBeGreaterThan(30_000);
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  });

  it("without WebGPU it says so and disables the controls", async () => {
    const browser = await launch(false);
    try {
      const page = await browser.newPage();
      await page.goto(`${origin}/`);
      await page.waitForSelector("body[data-state=no-webgpu]");
      expect(await page.textContent("#gpu-status")).toMatch(/WebGPU is not available here/);
      expect(await page.isDisabled("#load-url button")).toBe(true);
      expect(await page.isDisabled("#send")).toBe(true);
    } finally {
      await browser.close();
    }
  });
});
