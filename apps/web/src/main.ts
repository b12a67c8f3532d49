// The page: find a WebGPU adapter (or say why there is none), load a model folder, chat with it
// token by token, fine-tune it on pasted text with a live loss chart. All computation runs in
// the core's graphs on the WebGPU backend. The body's data-state tells scripts what it is doing.
import { checkpointFromBytes, Gemma2Model, type Gemma2Config, type Gemma2Params } from "@gemma-ts/core";
import { type Tokenizer, tokenizerFromJson } from "@gemma-ts/tokenizer";
import { WebGpuBackend } from "@gemma-ts/webgpu";
import { ChatSession } from "./chat-session.js";
import { fineTune } from "./fine-tune.js";
import { LossChart } from "./loss-chart.js";
import { fetchModelFiles, type ModelFiles, readModelFiles } from "./model-files.js";
import "./style.css";

type PageState = "starting" | "no-webgpu" | "idle" | "loading" | "ready" | "replying" | "training" | "error";

interface Loaded {
  config: Gemma2Config;
  params: Gemma2Params;
  tokenizer: Tokenizer;
  model: Gemma2Model;
  chat: ChatSession;
}

const element = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const gpuStatus = element<HTMLParagraphElement>("gpu-status");
const modelStatus = element<HTMLParagraphElement>("model-status");
const trainStatus = element<HTMLParagraphElement>("train-status");
const transcript = element<HTMLDivElement>("transcript");
const chart = new LossChart(element("loss-chart"));

let backend: WebGpuBackend | undefined;
let loaded: Loaded | undefined;
let stopTraining: AbortController | undefined;

function setState(state: PageState): void {
  document.body.dataset.state = state;
  const busy = state === "loading" || state === "replying" || state === "training";
  const usable = backend !== undefined;
  for (const id of ["model-url", "model-files"]) element<HTMLInputElement>(id).disabled = !usable || busy;
  element<HTMLFormElement>("load-url").querySelector("button")!.disabled = !usable || busy;
  for (const id of ["chat-input", "send", "reset-chat", "train", "train-text"]) element<HTMLInputElement>(id).disabled = !loaded || busy;
  element<HTMLButtonElement>("stop-training").disabled = state !== "training";
}

function say(target: HTMLElement, text: string, isError = false): void {
  target.textContent = text;
  target.classList.toggle("error", isError);
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function startWebGpu(): Promise<void> {
  try {
    backend = await WebGpuBackend.create();
    const info = backend.adapterInfo;
    say(gpuStatus, `WebGPU adapter: ${[info.vendor, info.architecture, info.description].filter(Boolean).join(" ") || "unnamed"}`);
    backend.device.lost.then((lost) => {
      say(gpuStatus, `The GPU device was lost (${lost.message || lost.reason}); reload the page.`, true);
      backend = undefined;
      loaded = undefined;
      setState("error");
    });
    setState("idle");
  } catch (error) {
    say(gpuStatus, `WebGPU is not available here, so the page cannot run models: ${message(error)}. It needs a browser with WebGPU (Chrome or Edge 113+, Safari 26, Firefox 141 on Windows) on a supported GPU.`, true);
    setState("no-webgpu");
  }
}

async function load(read: () => Promise<ModelFiles>): Promise<void> {
  if (!backend) return;
  setState("loading");
  try {
    const files = await read();
    say(modelStatus, "Checking the weights...");
    const { config, params } = checkpointFromBytes(files.configJson, files.weights);
    const tokenizer = tokenizerFromJson(files.tokenizerJson);
    say(modelStatus, "Uploading the weights to the GPU...");
    // One forward pass now, so that a model too large for this GPU fails here, not at the first message.
    const model = await readyModel(config, params);
    await loaded?.model.dispose();
    loaded = { config, params, tokenizer, model, chat: new ChatSession(model, tokenizer) };
    transcript.replaceChildren();
    const count = [...params.values()].reduce((n, tensor) => n + tensor.size, 0);
    say(modelStatus, `Loaded: ${(count / 1e6).toFixed(2)}M parameters, ${config.numHiddenLayers} layers, vocabulary of ${config.vocabSize}.`);
  } catch (error) {
    say(modelStatus, `Could not load the model: ${message(error)}`, true);
  } finally {
    settle();
  }
}

/** A model on the GPU that has run once (weights uploaded, graph compiled). */
async function readyModel(config: Gemma2Config, params: Gemma2Params): Promise<Gemma2Model> {
  const model = new Gemma2Model(config, params, backend!, { weights: "inputs" });
  try {
    await model.forward([[config.bosTokenId]]);
    return model;
  } catch (error) {
    await model.dispose();
    throw error;
  }
}

/** Back to a resting state after an action: ready with a model, idle without, error once the GPU is gone. */
function settle(): void {
  setState(!backend ? "error" : loaded ? "ready" : "idle");
}

function addTurn(role: "user" | "model", text: string): HTMLDivElement {
  const turn = document.createElement("div");
  turn.className = `turn ${role}`;
  turn.textContent = text;
  transcript.append(turn);
  transcript.scrollTop = transcript.scrollHeight;
  return turn;
}

async function send(text: string): Promise<void> {
  if (!loaded || text.trim() === "") return;
  setState("replying");
  addTurn("user", text);
  const turn = addTurn("model", "");
  let pieces = 0;
  try {
    const temperature = Number(element<HTMLInputElement>("temperature").value);
    const maxNewTokens = Number(element<HTMLInputElement>("max-tokens").value);
    for await (const piece of loaded.chat.reply(text, { temperature, maxNewTokens })) {
      turn.textContent += piece;
      turn.dataset.pieces = String(++pieces);
      transcript.scrollTop = transcript.scrollHeight;
    }
    turn.dataset.done = "true";
  } catch (error) {
    turn.textContent += ` [error: ${message(error)}]`;
  } finally {
    settle();
  }
}

async function train(): Promise<void> {
  if (!loaded || !backend) return;
  const number = (id: string) => Number(element<HTMLInputElement>(id).value);
  const steps = number("steps");
  let stepsDone = 0;
  stopTraining = new AbortController();
  setState("training");
  chart.reset();
  const started = performance.now();
  const before = loaded;
  // The chat model's GPU copy of the weights goes while the trainer holds its own, with gradients and moments.
  await before.model.dispose();
  let params = before.params;
  try {
    params = await fineTune(backend, before.config, before.params, before.tokenizer, element<HTMLTextAreaElement>("train-text").value, {
      steps,
      lr: number("lr"),
      batchSize: number("batch-size"),
      sequenceLength: number("seq-len"),
      mode: element<HTMLSelectElement>("mode").value === "lora" ? "lora" : "full",
      signal: stopTraining.signal,
      onStep: (step, loss) => {
        stepsDone = step + 1;
        chart.push(step + 1, loss);
        say(trainStatus, `step ${step + 1} of ${steps}: loss ${loss.toFixed(4)} (${((performance.now() - started) / (step + 1)).toFixed(0)} ms a step)`);
      },
    });
    const ending = stepsDone < steps ? `Stopped after ${stepsDone} steps: the chat uses the weights so far.` : "Done: the chat now uses the fine-tuned weights.";
    say(trainStatus, `${trainStatus.textContent}. ${ending}`);
  } catch (error) {
    say(trainStatus, `Training failed: ${message(error)}`, true);
  }
  try {
    const model = await readyModel(before.config, params);
    loaded = { ...before, params, model, chat: new ChatSession(model, before.tokenizer) };
    transcript.replaceChildren();
  } catch (error) {
    loaded = undefined;
    say(modelStatus, `The model could not be put back on the GPU: ${message(error)}`, true);
  } finally {
    settle();
  }
}

element<HTMLFormElement>("load-url").addEventListener("submit", (event) => {
  event.preventDefault();
  const url = element<HTMLInputElement>("model-url").value;
  void load(() => fetchModelFiles(url, (name) => say(modelStatus, `Fetching ${name}...`)));
});
element<HTMLInputElement>("model-files").addEventListener("change", (event) => {
  const files = (event.target as HTMLInputElement).files;
  if (files && files.length > 0) void load(() => readModelFiles(files));
});
element<HTMLFormElement>("chat-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = element<HTMLTextAreaElement>("chat-input");
  const text = input.value;
  input.value = "";
  void send(text);
});
element<HTMLButtonElement>("reset-chat").addEventListener("click", () => {
  loaded?.chat.reset();
  transcript.replaceChildren();
});
element<HTMLButtonElement>("train").addEventListener("click", () => void train());
element<HTMLButtonElement>("stop-training").addEventListener("click", () => stopTraining?.abort());

setState("starting");
void startWebGpu();
