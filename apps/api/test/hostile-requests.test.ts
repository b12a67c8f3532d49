// Requests an attacker would send, each answered in OpenAI's error shape with a 4xx, never a
// framework's own JSON, an empty body or a 500: what Node's HTTP parser and Fastify's router refuse
// before any route runs (with the API key still checked first wherever a request was read), a
// connection the server closes saying `Connection: close`, and response_format schemas or stop
// strings sized to exhaust the stack or the CPU. The server keeps serving after each.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rawRequest, type RawResponse } from "./support/raw-http.js";
import { MODEL, postJson, startTestServer, type TestServer } from "./support/test-server.js";

const KEY = "sk-hostile";
let t: TestServer;
let port: number;
beforeAll(async () => {
  t = await startTestServer({ apiKey: KEY, maxTokensLimit: 16 });
  port = Number(new URL(t.url).port);
});
afterAll(() => t.stop());

const auth = { authorization: `Bearer ${KEY}` };
const valid = { model: MODEL, messages: [{ role: "user", content: "Hi" }], max_tokens: 2 };

/** A request's text: the request line, then headers (Host first unless `host` is false). */
function http(line: string, headers: Record<string, string> = {}, body = "", host = true): string {
  const all = { ...(host ? { host: "127.0.0.1" } : {}), ...headers, ...(body ? { "content-length": String(Buffer.byteLength(body)) } : {}) };
  return `${line}\r\n${Object.entries(all)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join("")}\r\n${body}`;
}

function expectOpenAiError(response: { status: number; json?: any; body?: any }, status: number, code?: string) {
  const body = "json" in response ? response.json : response.body;
  expect(response.status).toBe(status);
  expect(body, JSON.stringify(response)).toBeTypeOf("object");
  expect(Object.keys(body)).toEqual(["error"]);
  expect(Object.keys(body.error).sort()).toEqual(["code", "message", "param", "type"]);
  expect(body.error.type).toBe("invalid_request_error");
  expect(body.error.message).toBeTypeOf("string");
  if (code !== undefined) expect(body.error.code).toBe(code);
}

async function expectStillServing() {
  expect((await postJson(`${t.url}/v1/chat/completions`, valid, auth)).status).toBe(200);
}

describe("refusals before any route runs", () => {
  it("a malformed percent-escape in the URL: 401 without the key, then a 400 invalid_url", async () => {
    expectOpenAiError(await rawRequest(port, http("GET /v1/models/%E0%A4%A HTTP/1.1")), 401, "invalid_api_key");
    expectOpenAiError(await rawRequest(port, http("GET /v1/models/%E0%A4%A HTTP/1.1", auth)), 400, "invalid_url");
    expectOpenAiError(await rawRequest(port, http("POST /v1/chat/completions%ZZ HTTP/1.1", auth)), 400, "invalid_url");
    await expectStillServing();
  });

  it("a URL segment past the router's limit is a 414 after the key", async () => {
    const long = `GET /v1/models/${"a".repeat(300)} HTTP/1.1`;
    expectOpenAiError(await rawRequest(port, http(long)), 401, "invalid_api_key");
    expectOpenAiError(await rawRequest(port, http(long, auth)), 414, "url_too_long");
  });

  it("oversized headers: a 431 that says Connection: close, then the socket closes", async () => {
    const response = await rawRequest(port, http("GET /v1/models HTTP/1.1", { ...auth, "x-padding": "a".repeat(32 * 1024) }), { closeWaitMs: 3000 });
    expectOpenAiError(response, 431, "request_header_fields_too_large");
    expect(response.headers.connection).toBe("close");
    expect(response.closed).toBe(true);
    await expectStillServing();
  });

  it.each([
    ["a request line that is not HTTP", "GARBAGE\r\n\r\n"],
    ["Content-Length and Transfer-Encoding together", http("POST /v1/chat/completions HTTP/1.1", { "content-length": "2", "transfer-encoding": "chunked" })],
    ["a Content-Length that is not a number", http("POST /v1/chat/completions HTTP/1.1", { ...auth, "content-type": "application/json", "content-length": "abc" })],
    ["a header name with a space", http("GET /v1/models HTTP/1.1", { "bad header": "x" })],
  ])("%s: a 400 that says Connection: close", async (_, request) => {
    const response = await rawRequest(port, request, { closeWaitMs: 3000 });
    expectOpenAiError(response, 400, "invalid_http_request");
    expect(response.headers.connection).toBe("close");
    expect(response.closed).toBe(true);
  });

  it("garbage pipelined after a request: its answer first, then a 400 that says Connection: close", async () => {
    const response = await rawRequest(port, `${http("GET /v1/models HTTP/1.1", auth)}GARBAGE\r\n\r\n`, { closeWaitMs: 3000 });
    expect(response.status).toBe(200);
    expect(response.json.object).toBe("list");
    const [head, body] = response.following.split("\r\n\r\n");
    expect(head).toMatch(/^HTTP\/1\.1 400 /);
    expect(head).toMatch(/\r\nconnection: close(\r\n|$)/i);
    expectOpenAiError({ status: 400, json: JSON.parse(body!) }, 400, "invalid_http_request");
    expect(response.closed).toBe(true);
  });

  it("no Host header: 401 without the key, else a 400 that closes the connection", async () => {
    expectOpenAiError(await rawRequest(port, http("GET /v1/models HTTP/1.1", {}, "", false)), 401, "invalid_api_key");
    const response = await rawRequest(port, http("GET /v1/models HTTP/1.1", auth, "", false), { closeWaitMs: 3000 });
    expectOpenAiError(response, 400, "missing_host");
    expect(response.headers.connection).toBe("close");
    expect(response.closed).toBe(true);
    // /health needs no key, and HTTP/1.0 no Host.
    expect((await rawRequest(port, "GET /health HTTP/1.0\r\n\r\n")).status).toBe(200);
  });

  it("an Expect other than 100-continue: 401 without the key, then a 417", async () => {
    const request = (headers: Record<string, string>) =>
      http("POST /v1/chat/completions HTTP/1.1", { ...headers, expect: "something-else", "content-type": "application/json" }, JSON.stringify(valid));
    expectOpenAiError(await rawRequest(port, request({})), 401, "invalid_api_key");
    expectOpenAiError(await rawRequest(port, request(auth)), 417, "expectation_failed");
    await expectStillServing();
  });

  it("a body that is not JSON is a 415, after the key", async () => {
    const plain = (headers: Record<string, string>) => rawRequest(port, http("POST /v1/chat/completions HTTP/1.1", { ...headers, "content-type": "text/plain" }, JSON.stringify(valid)));
    expectOpenAiError(await plain({}), 401, "invalid_api_key");
    expectOpenAiError(await plain(auth), 415, "unsupported_media_type");
    expectOpenAiError(await rawRequest(port, http("POST /v1/chat/completions HTTP/1.1", auth, JSON.stringify(valid))), 415, "unsupported_media_type");
    expectOpenAiError(await rawRequest(port, http("POST /v1/completions HTTP/1.1", { ...auth, "content-type": "application/x-www-form-urlencoded" }, "a=1")), 415);
  });

  it("a known URL with the wrong method is a 405 naming the allowed ones, after the key", async () => {
    expectOpenAiError(await rawRequest(port, http("GET /v1/chat/completions HTTP/1.1")), 401, "invalid_api_key");
    const get = await rawRequest(port, http("GET /v1/chat/completions HTTP/1.1", auth));
    expectOpenAiError(get, 405, "method_not_allowed");
    expect(get.headers.allow).toBe("POST");
    const post = await rawRequest(port, http("DELETE /v1/models/tiny?x=1 HTTP/1.1", auth));
    expectOpenAiError(post, 405, "method_not_allowed");
    expect(post.headers.allow?.split(", ").sort()).toEqual(["GET", "HEAD"]);
    expectOpenAiError(await rawRequest(port, http("GET /v1/nothing-here HTTP/1.1", auth)), 404, "unknown_url");
  });

  it("a body over the limit, bad JSON and a prototype key all say Connection: close", async () => {
    const json = (body: string, length = Buffer.byteLength(body)) =>
      rawRequest(port, `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${KEY}\r\ncontent-type: application/json\r\ncontent-length: ${length}\r\n\r\n${body}`, {
        closeWaitMs: 3000,
      });
    for (const [response, status] of [
      [await json("{}", 5 << 20), 413],
      [await json("{ not json"), 400],
      [await json('{"__proto__":{"x":1}}'), 400],
    ] as [RawResponse, number][]) {
      expectOpenAiError(response, status);
      expect(response.headers.connection).toBe("close");
      expect(response.closed).toBe(true);
    }
  });
});

/** A JSON text with `depth` levels of `open` around `inner`, for depths JSON.stringify cannot build. */
function nest(depth: number, open: string, inner: string, close: string): string {
  return open.repeat(depth) + inner + close.repeat(depth);
}

describe("response_format schemas past the limits are a 400 naming the limit", () => {
  const withSchema = (schemaText: string) =>
    `{"model":"${MODEL}","messages":[{"role":"user","content":"Hi"}],"max_tokens":4,"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":${schemaText}}}}`;
  const chain = (length: number) => {
    const defs = Array.from({ length }, (_, i) => `"d${i}":${i + 1 < length ? `{"$ref":"#/$defs/d${i + 1}"}` : '{"type":"string"}'}`);
    return `{"$ref":"#/$defs/d0","$defs":{${defs.join(",")}}}`;
  };
  const fanOut = (levels: number) => {
    const defs = Array.from({ length: levels }, (_, i) =>
      i + 1 < levels ? `"d${i}":{"type":"object","properties":{${["a", "b", "c", "d"].map((name) => `"${name}":{"$ref":"#/$defs/d${i + 1}"}`).join(",")}}}` : `"d${i}":{"type":"string"}`,
    );
    return `{"$ref":"#/$defs/d0","$defs":{${defs.join(",")}}}`;
  };

  it.each([
    ["properties nested 3,000 deep", nest(3000, '{"type":"object","properties":{"a":', '{"type":"string"}', "}}"), "256 levels"],
    ["items nested 3,000 deep", nest(3000, '{"type":"array","items":', "{}", "}"), "256 levels"],
    ["anyOf nested 3,000 deep", nest(3000, '{"anyOf":[', '{"type":"string"}', "]}"), "256 levels"],
    ["an enum value nested 3,000 deep", `{"enum":[${nest(3000, "[", "1", "]")}]}`, "256 levels"],
    ["schemas nested 100 deep", nest(100, '{"type":"array","items":', "{}", "}"), "64 levels"],
    ["a $ref chain 5,000 long", chain(5000), "64 levels"],
    ["$refs that fan out to 4^20 schemas", fanOut(20), "20000 subschemas"],
  ])("%s", async (_, schemaText, limit) => {
    const response = await postJson(`${t.url}/v1/chat/completions`, withSchema(schemaText), auth);
    expectOpenAiError({ status: response.status, json: response.body }, 400, "unsupported_schema");
    expect(response.body.error.param).toBe("response_format");
    expect(response.body.error.message).toContain(`limit of ${limit}`);
    await expectStillServing();
  });

  it("a $ref with a malformed percent-escape is a 400, not a 500", async () => {
    const response = await postJson(`${t.url}/v1/chat/completions`, withSchema('{"$ref":"#/$defs/%E0%A4%A","$defs":{}}'), auth);
    expectOpenAiError({ status: response.status, json: response.body }, 400, "unsupported_schema");
  });

  it("a stop string over 512 characters is a 400", async () => {
    const response = await postJson(`${t.url}/v1/chat/completions`, { ...valid, stop: ["\n", "x".repeat(513)] }, auth);
    expectOpenAiError({ status: response.status, json: response.body }, 400);
    expect(response.body.error.param).toBe("stop[1]");
    expect((await postJson(`${t.url}/v1/chat/completions`, { ...valid, stop: ["x".repeat(512)] }, auth)).status).toBe(200);
  });
});

describe("found by fuzzing", () => {
  it("a temperature too small to divide logits by samples greedily, JSON constraint and all", async () => {
    // 1e-200 is inside [0, 2], but logits divided by it overflow float32; the draw then fell
    // outside the JSON constraint's mask (a 500, or an error event mid-stream).
    const schema = { type: "object", properties: { name: { type: "string" } }, required: ["name"] };
    for (const temperature of [1e-200, 5e-324, 1e-6]) {
      const body = { ...valid, max_tokens: 12, temperature, n: 2, response_format: { type: "json_schema", json_schema: { name: "x", schema } } };
      const response = await postJson(`${t.url}/v1/chat/completions`, body, auth);
      expect(response.status, JSON.stringify(response.body)).toBe(200);
      const [first, second] = response.body.choices.map((choice: { message: { content: string } }) => choice.message.content);
      expect(second).toBe(first); // greedy: both choices alike
    }
  });
});
