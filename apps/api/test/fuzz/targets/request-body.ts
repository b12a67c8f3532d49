// Fuzz target (run in a child process by @gemma-ts/fuzz): one request body through the whole
// server (Fastify's body parsing, the hooks, the request schemas, the prompt builders, the engine's
// checks and, for a valid body, a short generation on the small test model), injected without a
// socket. Returning means the response kept the contract; a violation throws a bare Error, which
// is a finding, as are a crash, a hang or a memory blow-up.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer, loadServedModel } from "@gemma-ts/serve/http";
import { writeTestModel } from "../../support/test-model.js";
import type { BodyCase } from "../request-bodies.js";
import { contractViolation } from "../response-contract.js";

const root = mkdtempSync(join(tmpdir(), "gemma-ts-fuzz-api-"));
await writeTestModel(join(root, "tiny"));
const model = await loadServedModel(join(root, "tiny"), { maxBatchSize: 4, threads: 1 });
rmSync(root, { recursive: true, force: true });
const server = createServer({ models: [model], maxTokensLimit: 8 });
await server.app.ready();

export async function postBody(input: BodyCase): Promise<void> {
  const headers: Record<string, string> = input.contentType === "" ? {} : { "content-type": input.contentType };
  const response = await server.app.inject({ method: "POST", url: input.endpoint, payload: Buffer.from(input.body), headers });
  const violation = contractViolation({ status: response.statusCode, contentType: response.headers["content-type"] as string | undefined, body: response.body });
  if (violation) throw new Error(violation);
}
