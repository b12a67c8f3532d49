// What every response of the server must be, whatever the request: never a 5xx; an error in
// OpenAI's shape ({"error":{"message","type","param","code"}}, the type a client error's for a
// 4xx); a success parseable as the endpoint's JSON, or an SSE stream of JSON events ending in
// [DONE] (or in an error event, which is then a client error's too).

export interface SeenResponse {
  status: number;
  contentType: string | undefined;
  body: string;
}

/** The first way `response` breaks the contract, or undefined when it keeps it. */
export function contractViolation(response: SeenResponse): string | undefined {
  const { status, body } = response;
  if (status >= 500) return `status ${status}: ${body.slice(0, 300)}`;
  if (status >= 400) return errorShapeViolation(parse(body), status);
  if (response.contentType?.startsWith("text/event-stream")) {
    const events = body.split("\n\n").filter((event) => event.length > 0);
    const last = events.at(-1);
    for (const event of events) {
      if (!event.startsWith("data: ")) return `an SSE event that is not data: ${event.slice(0, 100)}`;
      const data = event.slice(6);
      if (data === "[DONE]") continue;
      const json = parse(data);
      if (json === undefined) return `an SSE event that is not JSON: ${data.slice(0, 100)}`;
      if ((json as { error?: unknown }).error !== undefined) return event === last ? errorShapeViolation(json, 400, "an error event") : "an error event before the end of the stream";
    }
    return last === "data: [DONE]" || last?.includes('"error"') ? undefined : `a stream that does not end in [DONE]: ${String(last).slice(0, 100)}`;
  }
  const json = parse(body) as { object?: unknown } | undefined;
  if (json === undefined || typeof json.object !== "string") return `a ${status} whose body is not a response object: ${body.slice(0, 200)}`;
  return undefined;
}

function errorShapeViolation(json: unknown, status: number, what = `a ${status}`): string | undefined {
  if (typeof json !== "object" || json === null || Object.keys(json).join() !== "error") return `${what} without OpenAI's error JSON: ${JSON.stringify(json)?.slice(0, 200)}`;
  const error = (json as { error: Record<string, unknown> }).error;
  if (Object.keys(error).sort().join() !== "code,message,param,type") return `error fields ${Object.keys(error).join()}`;
  if (typeof error.message !== "string") return "an error message that is not a string";
  const expected = status === 429 ? "requests" : "invalid_request_error";
  if (error.type !== expected) return `${what} of type ${String(error.type)}: ${String(error.message).slice(0, 200)}`;
  return undefined;
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
