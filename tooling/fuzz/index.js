// Fuzzing harness shared by the packages' fuzz tests: every case runs in a child process, so a
// parser that crashes the process, runs out of heap or never returns is reported as a finding
// instead of taking the test runner down with it.
import { fork } from "node:child_process";
import { createRequire } from "node:module";
import { isAbsolute } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import fc from "fast-check";

const childScript = fileURLToPath(new URL("./child.js", import.meta.url));
const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;

export class ParserChild {
  #options;
  #process = null;
  #ready = null;
  #stderr = "";
  #pending = null;
  #nextId = 0;

  constructor(options) {
    const module = isAbsolute(options.module) ? pathToFileURL(options.module).href : options.module;
    this.#options = {
      exportName: "default",
      timeoutMs: 5000,
      maxOldSpaceMb: 512,
      maxRssBytes: 1024 ** 3,
      ...options,
      module,
    };
  }

  #start() {
    const { module, exportName, maxOldSpaceMb } = this.#options;
    this.#stderr = "";
    const child = fork(childScript, [], {
      execArgv: ["--import", tsxLoader, "--conditions=@gemma-ts/source", `--max-old-space-size=${maxOldSpaceMb}`],
      env: { ...process.env, GEMMA_TS_FUZZ_MODULE: module, GEMMA_TS_FUZZ_EXPORT: exportName },
      stdio: ["ignore", "ignore", "pipe", "ipc"],
      serialization: "advanced",
    });
    child.stderr.on("data", (chunk) => {
      this.#stderr = (this.#stderr + chunk).slice(-4000);
    });
    this.#ready = new Promise((resolve, reject) => {
      const onExit = (code) => reject(new Error(`fuzz child exited (${code}) before it was ready:\n${this.#stderr}`));
      child.once("exit", onExit);
      child.once("message", () => {
        child.off("exit", onExit);
        resolve();
      });
    });
    child.on("message", (message) => {
      if (this.#pending && message.id === this.#pending.id) this.#pending.settle(message.outcome);
    });
    child.on("exit", (exitCode, signal) => {
      if (this.#process === child) this.#process = null;
      this.#pending?.settle({ kind: "crash", exitCode, signal, stderr: this.#stderr });
    });
    this.#process = child;
  }

  async run(input) {
    if (!this.#process) this.#start();
    const child = this.#process;
    await this.#ready;
    const id = this.#nextId++;
    const { timeoutMs, maxRssBytes } = this.#options;
    const outcome = await new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#pending = null;
        child.kill("SIGKILL");
        resolve({ kind: "hang", ms: timeoutMs });
      }, timeoutMs);
      this.#pending = {
        id,
        settle: (result) => {
          clearTimeout(timer);
          this.#pending = null;
          resolve(result);
        },
      };
      child.send({ id, input });
    });
    if (outcome.kind === "hang" || outcome.kind === "crash") {
      if (this.#process === child) this.#process = null;
      return outcome;
    }
    if (outcome.rssBytes > maxRssBytes) {
      child.kill("SIGKILL");
      if (this.#process === child) this.#process = null;
      return { kind: "memory", rssBytes: outcome.rssBytes, ms: outcome.ms };
    }
    return outcome;
  }

  async close() {
    const child = this.#process;
    this.#process = null;
    if (!child) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;
  }
}

const bareErrors = new Set(["Error", "TypeError", "RangeError", "SyntaxError", "ReferenceError", "InternalError"]);

export function isTypedError(outcome) {
  return outcome.kind === "error" && typeof outcome.code === "string" && !bareErrors.has(outcome.name);
}

export function fuzzRuns(ciDefault) {
  const fromEnv = Number(process.env.GEMMA_TS_FUZZ_RUNS);
  return Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : ciDefault;
}

export async function fuzzParser({ parser, child, arbitrary, runs, seed = 42, accept = isTypedError }) {
  const inputs = fc.sample(arbitrary, { numRuns: runs, seed });
  const findings = [];
  const kinds = {};
  for (const input of inputs) {
    const outcome = await child.run(input);
    kinds[outcome.kind] = (kinds[outcome.kind] ?? 0) + 1;
    if (outcome.kind !== "ok" && !accept(outcome)) findings.push({ input, outcome });
  }
  const counts = Object.entries(kinds)
    .map(([kind, n]) => `${kind} ${n}`)
    .join(", ");
  console.log(`fuzz ${parser}: ${inputs.length} cases (${counts}), ${findings.length} findings`);
  return { parser, cases: inputs.length, findings };
}

const boundaryIntegers = [0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0xffff, 0x7fffffff, 0xffffffff];

export function byteMutations(valid) {
  const offset = fc.nat({ max: Math.max(0, valid.length - 1) });
  return fc.oneof(
    fc.record({ kind: fc.constant("truncate"), at: fc.nat({ max: valid.length }) }),
    fc.record({ kind: fc.constant("flip"), flips: fc.array(fc.tuple(offset, fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 8 }) }),
    fc.record({
      kind: fc.constant("overwrite"),
      at: offset,
      value: fc.oneof(fc.constantFrom(...boundaryIntegers), fc.nat()),
      width: fc.constantFrom(1, 2, 4, 8),
    }),
    fc.record({ kind: fc.constant("splice"), at: offset, length: fc.nat({ max: 64 }), repeat: fc.integer({ min: 1, max: 64 }) }),
  );
}

export function applyByteMutation(valid, mutation) {
  switch (mutation.kind) {
    case "truncate":
      return valid.slice(0, mutation.at);
    case "flip": {
      const out = valid.slice();
      for (const [at, mask] of mutation.flips) if (at < out.length) out[at] ^= mask;
      return out;
    }
    case "overwrite": {
      const out = valid.slice();
      const view = new DataView(out.buffer);
      const end = Math.min(out.length, mutation.at + mutation.width);
      for (let i = mutation.at; i < end; i++) view.setUint8(i, 0);
      let value = BigInt(mutation.value);
      if (mutation.width === 8 && mutation.value === 0xffffffff) value = (1n << 64n) - 1n;
      for (let i = mutation.at; i < end; i++) {
        view.setUint8(i, Number(value & 0xffn));
        value >>= 8n;
      }
      return out;
    }
    case "splice": {
      const piece = valid.slice(mutation.at, mutation.at + mutation.length);
      const repeated = new Uint8Array(piece.length * mutation.repeat);
      for (let i = 0; i < mutation.repeat; i++) repeated.set(piece, i * piece.length);
      const out = new Uint8Array(valid.length + repeated.length);
      out.set(valid.subarray(0, mutation.at), 0);
      out.set(repeated, mutation.at);
      out.set(valid.subarray(mutation.at), mutation.at + repeated.length);
      return out;
    }
    default:
      throw new Error(`unknown mutation ${mutation.kind}`);
  }
}

export function deeplyNestedJson(depth, key) {
  if (key === undefined) return "[".repeat(depth) + "]".repeat(depth);
  return `${`{"${key}":`.repeat(depth)}null${"}".repeat(depth)}`;
}
