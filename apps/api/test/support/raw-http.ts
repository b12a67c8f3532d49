// HTTP/1.1 over a bare socket, for what fetch will not send (malformed request lines, oversized or
// missing headers, bad percent-escapes kept as typed) and for what it hides (whether the server
// closed the connection, and whether it said `Connection: close` first).
import { connect } from "node:net";

export interface RawResponse {
  status: number;
  /** Header names lowercased. */
  headers: Record<string, string>;
  body: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: any;
  /** The server closed the connection after the response (within `closeWaitMs`). */
  closed: boolean;
  /** What arrived after this response before the connection closed or the wait ended (a pipelined request's answer). */
  following: string;
}

/**
 * Writes `request` as is to 127.0.0.1:`port` and reads one response. Resolves once the response is
 * complete and then either the server closes the socket or `closeWaitMs` passes; rejects if no
 * complete response arrives within `timeoutMs`.
 */
export function rawRequest(port: number, request: string | Buffer, options: { closeWaitMs?: number; timeoutMs?: number } = {}): Promise<RawResponse> {
  const { closeWaitMs = 300, timeoutMs = 10_000 } = options;
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let data = Buffer.alloc(0);
    let response: Omit<RawResponse, "closed" | "following"> | undefined;
    let responseEnd = 0;
    let settled = false;
    const finish = (closed: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      socket.destroy();
      if (response) resolve({ ...response, closed, following: data.subarray(responseEnd).toString("latin1") });
      else reject(new Error(`no complete response; received ${JSON.stringify(data.toString("latin1").slice(0, 300))}`));
    };
    const deadline = setTimeout(() => finish(false), timeoutMs);
    socket.on("data", (chunk) => {
      data = Buffer.concat([data, chunk]);
      if (response) return;
      const parsed = parseResponse(data);
      if (!parsed) return;
      ({ response, end: responseEnd } = parsed);
      setTimeout(() => finish(socket.destroyed || socket.readableEnded), closeWaitMs);
    });
    socket.on("end", () => (response ? finish(true) : undefined));
    socket.on("close", () => finish(response !== undefined));
    // The server may close while the request is still being written (oversized headers).
    socket.on("error", () => {});
    socket.write(request);
  });
}

/** A complete response with a Content-Length body and where it ends, or undefined while bytes are missing. */
function parseResponse(data: Buffer): { response: Omit<RawResponse, "closed" | "following">; end: number } | undefined {
  const end = data.indexOf("\r\n\r\n");
  if (end < 0) return undefined;
  const [statusLine, ...lines] = data.subarray(0, end).toString("latin1").split("\r\n");
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const length = Number(headers["content-length"] ?? 0);
  if (data.length < end + 4 + length) return undefined;
  const body = data.subarray(end + 4, end + 4 + length).toString("utf8");
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    json = undefined;
  }
  return { response: { status: Number(statusLine!.split(" ")[1]), headers, body, json }, end: end + 4 + length };
}
