// The child side of ParserChild: imports the parser module once, then answers one message per
// case with what the parser did. Runs under tsx so test modules can be TypeScript.
const target = await import(process.env.GEMMA_TS_FUZZ_MODULE);
const fn = target[process.env.GEMMA_TS_FUZZ_EXPORT ?? "default"];
if (typeof fn !== "function") {
  throw new Error(`${process.env.GEMMA_TS_FUZZ_MODULE} has no function export ${process.env.GEMMA_TS_FUZZ_EXPORT}`);
}

process.on("message", async ({ id, input }) => {
  const start = performance.now();
  let reply;
  try {
    await fn(input);
    reply = { kind: "ok" };
  } catch (error) {
    const e = error instanceof Error ? error : new Error(String(error));
    reply = {
      kind: "error",
      name: e.name,
      code: typeof e.code === "string" ? e.code : undefined,
      message: e.message.slice(0, 500),
      stack: e.stack?.split("\n").slice(0, 6).join("\n"),
    };
  }
  reply.ms = performance.now() - start;
  reply.rssBytes = process.memoryUsage().rss;
  process.send({ id, outcome: reply });
});
process.send({ ready: true });
