// What the briefly trained test model (trained-model.ts) learns from: conversations shaped like
// the client tests' requests, each with the model turn it should answer. JSON objects with the
// tests' kinds of fields (names, bounded integers, enums, e-mails, dates, addresses, lists) when
// asked for JSON; a tool call in the server's calling convention (@gemma-ts/serve's tool-prompt.ts)
// when tools are offered and the question is one a tool answers; prose after a tool's result, to
// a greeting and to questions about the Union, tools offered or not; and plain prose documents, as
// the completions endpoint sees text. Seeded, so every run trains on the same text.
import { Random } from "@gemma-ts/core";
import { CALL_ARGUMENTS, CALL_OPENING, type ChatMessageInput, type ToolFunction, type ToolRules } from "@gemma-ts/serve";

/** A chat request (messages, and tools as the server renders them) with its answer, or plain prose. */
export type TrainingExample = { messages: ChatMessageInput[]; tools?: { functions: ToolFunction[]; rules: ToolRules }; reply: string } | { prose: string };

const CITIES = ["Paris", "London", "Rome", "Berlin", "Madrid", "Boston", "Denver", "Chicago", "Austin", "Oslo", "Lisbon", "Vienna"];
const NAMES = ["Ada", "Grace", "Alan", "John", "Mary", "Abraham", "Eleanor", "Thomas", "Martha", "James"];
const TOPICS = ["the tariff", "the railroads", "the treaty", "the census", "the navy", "the budget"];
const FORECASTS = ["sunny", "rain", "snow", "cloudy", "windy"];
const WORDS = ["ab", "cat", "dove", "elm", "fig", "gold", "hum", "ink"];
const SYSTEM = ["Be brief.", "Answer briefly.", "You are a helpful assistant."];

const JSON_REQUESTS = ["Describe a citizen as JSON.", "A citizen as JSON.", "Describe a citizen.", "Give me a report as JSON.", "Answer in JSON."];
const JSON_FIELDS: Record<string, (random: Random) => unknown> = {
  name: (random) => pick(random, NAMES),
  age: (random) => int(random, 18, 90),
  member: (random) => random.uniform() < 0.5,
  email: (random) => `${pick(random, NAMES).toLowerCase()}@example.com`,
  role: (random) => pick(random, ["admin", "user", "guest"]),
  address: (random) => ({ city: pick(random, CITIES), zip: digits(random, 5) }),
  scores: (random) => Array.from({ length: int(random, 1, 3) }, () => int(random, 1, 5)),
  tags: (random) => ["red", "green", "blue"].filter(() => random.uniform() < 0.5),
  kind: () => "report",
  score: (random) => (random.uniform() < 0.3 ? null : int(random, 0, 1000) / 10),
  code: (random) => `${Array.from({ length: 3 }, () => String.fromCharCode(65 + int(random, 0, 25))).join("")}-${digits(random, 2)}`,
  count: (random) => 2 * int(random, 5, 10),
  ratio: (random) => int(random, 1, 99) / 100,
  words: (random) => Array.from({ length: int(random, 2, 3) }, () => pick(random, WORDS)),
  day: (random) => `20${int(random, 10, 29)}-0${int(random, 1, 9)}-${int(random, 10, 28)}`,
  host: (random) => `10.${int(random, 0, 255)}.${int(random, 0, 255)}.${int(random, 1, 254)}`,
};
/** The tests' objects, and smaller ones, field by field in order. */
const JSON_SHAPES = [
  ["name", "age", "member"],
  ["name", "age", "email", "role", "address", "scores"],
  ["tags", "kind", "score"],
  ["code", "count", "ratio", "words", "day", "host"],
  ["name", "age"],
];

type Intent = "weather" | "lookup" | "chat";
interface Question {
  text: string;
  intent: Intent;
  city: string;
  days: number;
  topic: string;
}

/** Tools as the tests declare them, each with the questions it answers. */
const WEATHER = { city: { type: "string" }, unit: { enum: ["celsius", "fahrenheit"] }, days: { type: "integer" } };
const weatherTool = (name: string, fields: (keyof typeof WEATHER)[]): ToolFunction => ({
  name,
  description: "The forecast for a city.",
  parameters: objectSchema(Object.fromEntries(fields.map((field) => [field, WEATHER[field]]))),
});
const lookupTool: ToolFunction = { name: "lookup", description: "Search the archive.", parameters: objectSchema({ query: { type: "string" }, exact: { type: "boolean" } }) };
const TOOL_SETS: ToolFunction[][] = [
  [weatherTool("get_weather", ["city", "unit", "days"]), lookupTool],
  [weatherTool("get_weather", ["city"])],
  [weatherTool("getWeather", ["city", "unit"])],
  [weatherTool("get_weather", ["city", "days"])],
  [lookupTool],
];
const ARGUMENTS: Record<string, (random: Random, question: Question) => unknown> = {
  city: (_, question) => question.city,
  days: (_, question) => question.days,
  unit: (random) => pick(random, ["celsius", "fahrenheit"]),
  query: (_, question) => question.topic,
  exact: (random) => random.uniform() < 0.5,
};

/** `count` examples drawn from `seed`; prose is made of `sentences`. */
export function trainingExamples(count: number, seed: number, sentences: readonly string[]): TrainingExample[] {
  const random = new Random(seed);
  return Array.from({ length: count }, () => {
    const draw = random.uniform();
    if (draw < 0.25) return jsonAnswer(random);
    if (draw < 0.55) return toolCall(random);
    if (draw < 0.65) return answerAfterResult(random, sentences);
    if (draw < 0.92) return chatAnswer(random, sentences);
    return { prose: prose(random, sentences, int(random, 2, 4)) };
  });
}

function jsonAnswer(random: Random): TrainingExample {
  const shape = pick(random, JSON_SHAPES);
  const value = Object.fromEntries(shape.map((field) => [field, JSON_FIELDS[field]!(random)]));
  return { messages: withSystem(random, [{ role: "user", content: pick(random, JSON_REQUESTS) }]), reply: jsonText(value) };
}

/** Offered tools and a question one of them answers: a call to it, or to the named one. */
function toolCall(random: Random): TrainingExample {
  const functions = pick(random, TOOL_SETS);
  const draw = random.uniform();
  const choice: ToolRules["choice"] = draw < 0.5 ? "auto" : draw < 0.75 ? "required" : { name: pick(random, functions).name };
  const question = ask(random, intentOf(pick(random, functions)));
  const tool = typeof choice === "object" ? functions.find((candidate) => candidate.name === choice.name)! : (functions.find((candidate) => intentOf(candidate) === question.intent) ?? functions[0]!);
  return {
    messages: withSystem(random, [{ role: "user", content: question.text }]),
    tools: { functions, rules: { choice, parallel: random.uniform() < 0.5 } },
    reply: `${CALL_OPENING}${JSON.stringify(tool.name)}${CALL_ARGUMENTS}${jsonText(callArguments(random, tool, question))}}]}`,
  };
}

/** A weather call made and its result back (tools still offered, or not: tool_choice none): the answer reads it. */
function answerAfterResult(random: Random, sentences: readonly string[]): TrainingExample {
  const tool = pick(random, TOOL_SETS.slice(0, 4))[0]!;
  const question = ask(random, "weather");
  const forecast = pick(random, FORECASTS);
  const messages: ChatMessageInput[] = [
    { role: "user", content: question.text },
    { role: "assistant", content: null, tool_calls: [{ id: "call_1", name: tool.name, arguments: jsonText(callArguments(random, tool, question)) }] },
    { role: "tool", tool_call_id: "call_1", content: jsonText({ forecast }) },
  ];
  const reply = `The forecast for ${question.city} is ${forecast}. ${pick(random, sentences)}`;
  return random.uniform() < 0.5 ? { messages, reply } : { messages, tools: { functions: [tool], rules: { choice: "auto", parallel: true } }, reply };
}

/** Prose to a greeting or a question about the Union (tools offered under auto or not), or to a weather question without tools. */
function chatAnswer(random: Random, sentences: readonly string[]): TrainingExample {
  const offered = random.uniform() < 0.5;
  const question = ask(random, offered ? "chat" : pick(random, ["chat", "chat", "weather"]));
  const messages: ChatMessageInput[] = [{ role: "user", content: question.text }];
  // Sometimes a turn before it, as previous_response_id and a client's history make.
  if (random.uniform() < 0.3) messages.unshift({ role: "user", content: ask(random, "chat").text }, { role: "assistant", content: prose(random, sentences, 1) });
  const reply = prose(random, sentences, int(random, 1, 2));
  const example = { messages: withSystem(random, messages), reply };
  return offered ? { ...example, tools: { functions: pick(random, TOOL_SETS), rules: { choice: "auto", parallel: random.uniform() < 0.5 } } } : example;
}

function ask(random: Random, intent: Intent): Question {
  const city = pick(random, CITIES);
  const days = int(random, 1, 7);
  const topic = pick(random, TOPICS);
  const texts: Record<Intent, string[]> = {
    weather: [`What is the weather in ${city} for the next ${days} days?`, `Weather in ${city}?`, "Weather?", `Will it rain in ${city}?`, `The forecast for ${city}, please.`],
    lookup: [`Search the archive for ${topic}.`, `What does the archive say about ${topic}?`],
    chat: ["Hello", "Hello there.", "Tell me about the Union.", "Name a state.", "And another?", "Tell me about the Congress.", "Thank you."],
  };
  return { text: pick(random, texts[intent]), intent, city, days, topic };
}

function intentOf(tool: ToolFunction): Intent {
  return tool.name === "lookup" ? "lookup" : "weather";
}

function callArguments(random: Random, tool: ToolFunction, question: Question): Record<string, unknown> {
  const properties = Object.keys((tool.parameters as { properties: object }).properties);
  return Object.fromEntries(properties.map((name) => [name, ARGUMENTS[name]!(random, question)]));
}

function withSystem(random: Random, messages: ChatMessageInput[]): ChatMessageInput[] {
  return random.uniform() < 0.2 ? [{ role: "system", content: pick(random, SYSTEM) }, ...messages] : messages;
}

function prose(random: Random, sentences: readonly string[], count: number): string {
  return Array.from({ length: count }, () => pick(random, sentences)).join(" ");
}

function objectSchema(properties: Record<string, object>): Record<string, unknown> {
  return { type: "object", properties, required: Object.keys(properties), additionalProperties: false };
}

/** JSON with a space after each colon and comma, as models most often write it. */
function jsonText(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(jsonText).join(", ")}]`;
  if (value !== null && typeof value === "object") return `{${Object.entries(value).map(([key, item]) => `${JSON.stringify(key)}: ${jsonText(item)}`).join(", ")}}`;
  return JSON.stringify(value);
}

function pick<T>(random: Random, items: readonly T[]): T {
  return items[Math.floor(random.uniform() * items.length)]!;
}

/** An integer in [low, high]. */
function int(random: Random, low: number, high: number): number {
  return low + Math.floor(random.uniform() * (high - low + 1));
}

function digits(random: Random, count: number): string {
  return Array.from({ length: count }, () => int(random, 0, 9)).join("");
}
