// The ranges a request's fields may take, in one table that every way in checks against: the
// engine's validateRequest, the HTTP request schemas (@gemma-ts/serve/http) and the CLI's sampling
// flags. OpenAI's ranges where OpenAI documents one, so a request one door takes the others take.
// Keyed by the engine's field names; the HTTP names are their snake_case (n is `choices`).

export interface RequestLimit {
  min: number;
  max: number;
  /** The value must be an integer. */
  integer?: boolean;
  /** `min` itself is outside the range (repetitionPenalty > 0). */
  minExclusive?: boolean;
}

export const REQUEST_LIMITS = {
  /** Tokens to generate; a server may set a lower ceiling of its own. */
  maxTokens: { min: 1, max: Number.MAX_SAFE_INTEGER, integer: true },
  /** 0 is greedy. */
  temperature: { min: 0, max: 2 },
  topP: { min: 0, max: 1 },
  /** 0 keeps every token. */
  topK: { min: 0, max: Number.MAX_SAFE_INTEGER, integer: true },
  minP: { min: 0, max: 1 },
  /** 1 is none; logits are divided (positive) or multiplied (negative) by it. */
  repetitionPenalty: { min: 0, max: 100, minExclusive: true },
  frequencyPenalty: { min: -2, max: 2 },
  presencePenalty: { min: -2, max: 2 },
  seed: { min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER, integer: true },
  /** Alternatives reported per token (OpenAI's ceiling). */
  topLogprobs: { min: 0, max: 20, integer: true },
  /**
   * Alternatives reported per scored prompt token (vLLM's prompt_logprobs). Above OpenAI's 20, so
   * a distillation teacher can give its top 64; each costs a JSON entry per prompt token.
   */
  promptLogprobs: { min: 0, max: 64, integer: true },
  /** Prompts in one HTTP completions request (a list of strings or of token-id lists). */
  prompts: { min: 1, max: 64, integer: true },
  /** Token ids in one prompt given as ids; the model's context length is the tighter bound. */
  promptTokens: { min: 1, max: 131_072, integer: true },
  /** How many stop strings a request may give; each must be non-empty. */
  stopStrings: { min: 0, max: 16, integer: true },
  /**
   * Characters in one stop string: text that may begin one is held back and re-matched with each
   * token, at a cost that grows with the square of its length (real ones are a few characters).
   */
  stopStringLength: { min: 1, max: 512, integer: true },
  /**
   * Function tools per request (OpenAI's ceiling). Each is rendered into the prompt, so the
   * context length bounds them further; a forced call compiles each candidate's schema.
   */
  tools: { min: 0, max: 128, integer: true },
  /** Characters of a function name: OpenAI's pattern, ^[a-zA-Z0-9_-]{1,64}$. */
  toolName: { min: 1, max: 64, integer: true },
  /** Choices per HTTP request (OpenAI's `n`); each is one engine request. */
  choices: { min: 1, max: 8, integer: true },
} as const satisfies Record<string, RequestLimit>;

export type RequestLimitName = keyof typeof REQUEST_LIMITS;

/** Whether `value` is a finite number inside `limit`. */
export function withinLimit(value: unknown, limit: RequestLimit): value is number {
  if (typeof value !== "number" || !Number.isFinite(value)) return false;
  if (limit.integer && !Number.isInteger(value)) return false;
  return (limit.minExclusive ? value > limit.min : value >= limit.min) && value <= limit.max;
}

/** The range in words, for error messages: "a number in [0, 2]", "an integer >= 1". */
export function describeLimit(limit: RequestLimit): string {
  const kind = limit.integer ? "an integer" : "a number";
  if (limit.max === Number.MAX_SAFE_INTEGER) {
    return limit.min === Number.MIN_SAFE_INTEGER ? kind : `${kind} ${limit.minExclusive ? ">" : ">="} ${limit.min}`;
  }
  return `${kind} in ${limit.minExclusive ? "(" : "["}${limit.min}, ${limit.max}]`;
}
