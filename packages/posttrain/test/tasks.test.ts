// The task family: every kind's prompt and answer follow the specification (checked by
// recomputing the answer from the prompt), the splits are seeded and disjoint, the words come
// from the public list; the true reward is 1 / 0.5 / 0 as specified.
import { describe, expect, it } from "vitest";
import { Random } from "@gemma-ts/core";
import { drawTask, TASK_KINDS, taskSplit, taskWords, trueReward } from "../src/index.js";

/** The answer, worked out from the prompt text alone. */
function solve(prompt: string): string {
  let m = /^What is (\d+) \+ (\d+)\?$/.exec(prompt);
  if (m) return String(Number(m[1]) + Number(m[2]));
  m = /^What number comes after (\d+)\?$/.exec(prompt);
  if (m) return String(Number(m[1]) + 1);
  m = /^Write in capital letters: ([a-z]+)$/.exec(prompt);
  if (m) return m[1]!.toUpperCase();
  m = /^Repeat the word ([a-z]+) (\d) times\.$/.exec(prompt);
  if (m) return new Array(Number(m[2])).fill(m[1]).join(" ");
  m = /^Sort in ascending order: (\d), (\d), (\d), (\d)$/.exec(prompt);
  if (m) return m.slice(1).sort().join(", ");
  throw new Error(`not a task prompt: ${prompt}`);
}

describe("task family", () => {
  it("draws every kind within its ranges, with the answer the prompt asks for", () => {
    const random = new Random(3);
    const seen = new Map<string, Set<number>>();
    for (let i = 0; i < 2000; i++) {
      const task = drawTask(TASK_KINDS[i % TASK_KINDS.length]!, random);
      expect(task.answer).toBe(solve(task.prompt));
      const numbers = (task.prompt.match(/\d+/g) ?? []).map(Number);
      if (task.kind === "add") expect(numbers.every((n) => n >= 0 && n <= 99)).toBe(true);
      if (task.kind === "next") expect(numbers[0]).toBeLessThanOrEqual(999);
      if (task.kind === "repeat") expect([2, 3, 4]).toContain(numbers[0]);
      if (task.kind === "sort") expect(numbers.every((n) => n <= 9)).toBe(true);
      const set = seen.get(task.kind) ?? new Set();
      for (const n of numbers) set.add(n);
      seen.set(task.kind, set);
    }
    // The ranges are covered, not just respected.
    expect(Math.max(...seen.get("add")!)).toBe(99);
    expect(Math.min(...seen.get("add")!)).toBe(0);
    expect(seen.get("repeat")).toEqual(new Set([2, 3, 4]));
  });

  it("takes lower-case words of 3 to 8 letters from popular-english-words", () => {
    const words = taskWords();
    expect(words.length).toBe(2000);
    expect(words.every((word) => /^[a-z]{3,8}$/.test(word))).toBe(true);
    expect(words.slice(0, 3)).toEqual(["the", "and", "was"]);
  });

  it("splits are seeded, disjoint, and the eval set does not depend on the train size", () => {
    const a = taskSplit({ seed: 1, train: 500, eval: 100 });
    const b = taskSplit({ seed: 1, train: 50, eval: 100 });
    expect(a.eval).toEqual(b.eval);
    const evalPrompts = new Set(a.eval.map((task) => task.prompt));
    expect(a.train.some((task) => evalPrompts.has(task.prompt))).toBe(false);
    expect(new Set(a.train.map((task) => task.prompt)).size).toBe(500);
    expect(taskSplit({ seed: 2, train: 10, eval: 10 }).eval).not.toEqual(a.eval.slice(0, 10));
    expect(a.train.slice(0, 5).map((task) => task.kind)).toEqual([...TASK_KINDS]);
    // "next" has 1,000 distinct prompts: once they run out the other kinds fill its turns, and a
    // split of "next" alone that asks for more is refused.
    const large = taskSplit({ seed: 1, train: 8000, eval: 100 });
    expect(new Set(large.train.map((task) => task.prompt)).size).toBe(8000);
    const next = [...large.train, ...large.eval].filter((task) => task.kind === "next").length;
    expect(next).toBeGreaterThan(990);
    expect(next).toBeLessThanOrEqual(1000);
    expect(() => taskSplit({ seed: 1, train: 5000, eval: 100, kinds: ["next"] })).toThrow(/cannot draw more distinct 'next' tasks/);
  });
});

describe("true reward", () => {
  it("is 1 for the answer, after trimming whitespace and one trailing period", () => {
    expect(trueReward("57", "57")).toBe(1);
    expect(trueReward("  57.  ", "57")).toBe(1);
    expect(trueReward("HELLO\n", "HELLO")).toBe(1);
    expect(trueReward("1, 2, 3, 4.", "1, 2, 3, 4")).toBe(1);
  });

  it("is 0.5 for the answer as a separate sequence inside other text", () => {
    expect(trueReward("The answer is 57.", "57")).toBe(0.5);
    expect(trueReward("57!", "57")).toBe(0.5);
    expect(trueReward("57..", "57")).toBe(0.5);
    expect(trueReward("sure: cat cat cat", "cat cat cat")).toBe(0.5);
  });

  it("is 0 otherwise, including the answer glued inside a longer number or word", () => {
    expect(trueReward("58", "57")).toBe(0);
    expect(trueReward("157", "57")).toBe(0);
    expect(trueReward("5712", "57")).toBe(0);
    expect(trueReward("HELLOS", "HELLO")).toBe(0);
    expect(trueReward("cat cat", "cat cat cat")).toBe(0);
    expect(trueReward("", "57")).toBe(0);
  });
});
