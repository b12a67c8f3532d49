import { defineGemmaProject } from "@gemma-ts/vitest-preset";
import { configDefaults, defineConfig } from "vitest/config";

// The client tests run on random weights and on a briefly trained model, which their global setup
// trains once per run, in the background. They are a project of their own: vitest runs a project's
// global setup only when the project has test files to run, so a run of the server's other tests
// (or `pnpm fuzz`) does not train; and in a whole run the server's tests go first (groupOrder),
// while the model trains.
const CLIENT_TESTS = ["tools", "responses", "ai-sdk-tools", "ai-sdk-structured", "langchain-chat", "langchain-structured", "json-format"].map((name) => `test/${name}.test.ts`);

export default defineConfig({
  test: {
    projects: [
      defineGemmaProject({ name: "server", exclude: [...configDefaults.exclude, ...CLIENT_TESTS], sequence: { groupOrder: 0 } }),
      defineGemmaProject({ name: "clients", include: CLIENT_TESTS, globalSetup: ["test/support/trained-model-setup.ts"], sequence: { groupOrder: 1 } }),
    ],
  },
});
