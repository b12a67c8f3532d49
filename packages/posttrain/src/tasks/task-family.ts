/// <reference path="../popular-english-words.d.ts" />
// The task family post-training is measured on: one-turn chat prompts whose answers a program can
// check, so a "true reward" exists without human raters. Five kinds:
//   add     "What is A + B?", A, B in 0..99            -> the decimal sum ("57")
//   next    "What number comes after N?", N in 0..999   -> N + 1
//   upper   "Write in capital letters: W"               -> W upper-cased
//   repeat  "Repeat the word W N times.", N in 2..4     -> W repeated N times, single spaces
//   sort    "Sort in ascending order: a, b, c, d"       -> the four digits sorted, ", " between
// Words are lower-case English words of 3 to 8 letters among the most frequent of Wikipedia, from
// the npm package popular-english-words (a public list, not typed in here).
import { words as popularWords } from "popular-english-words";
import { Random } from "@gemma-ts/core";

export const TASK_KINDS = ["add", "next", "upper", "repeat", "sort"] as const;
export type TaskKind = (typeof TASK_KINDS)[number];

export interface Task {
  kind: TaskKind;
  /** The user's message. */
  prompt: string;
  /** The reply that scores 1. */
  answer: string;
}

/** The word list: how many of the most frequent qualifying words to draw from. */
export const TASK_WORD_COUNT = 2000;

let wordList: readonly string[] | undefined;

/** Lower-case words of 3 to 8 letters, the most frequent first. */
export function taskWords(): readonly string[] {
  wordList ??= popularWords.getMostPopularFilter(TASK_WORD_COUNT, (word) => /^[a-z]{3,8}$/.test(word));
  return wordList;
}

/** One task of the kind, drawn with `random`. */
export function drawTask(kind: TaskKind, random: Random): Task {
  const int = (from: number, to: number) => from + Math.floor(random.uniform() * (to - from + 1));
  const word = () => taskWords()[Math.floor(random.uniform() * taskWords().length)]!;
  switch (kind) {
    case "add": {
      const a = int(0, 99);
      const b = int(0, 99);
      return { kind, prompt: `What is ${a} + ${b}?`, answer: String(a + b) };
    }
    case "next": {
      const n = int(0, 999);
      return { kind, prompt: `What number comes after ${n}?`, answer: String(n + 1) };
    }
    case "upper": {
      const w = word();
      return { kind, prompt: `Write in capital letters: ${w}`, answer: w.toUpperCase() };
    }
    case "repeat": {
      const w = word();
      const n = int(2, 4);
      return { kind, prompt: `Repeat the word ${w} ${n} times.`, answer: Array.from({ length: n }, () => w).join(" ") };
    }
    case "sort": {
      const digits = Array.from({ length: 4 }, () => int(0, 9));
      return { kind, prompt: `Sort in ascending order: ${digits.join(", ")}`, answer: [...digits].sort((x, y) => x - y).join(", ") };
    }
  }
}

export interface TaskSplitOptions {
  seed: number;
  train: number;
  eval: number;
  /** The kinds to draw from, in turn (default: all five). */
  kinds?: readonly TaskKind[];
}

/**
 * Train and evaluation tasks with no prompt in common, the kinds in turn (a kind whose distinct
 * prompts have run out is skipped), drawn from `seed`.
 * The evaluation set is drawn first, so it does not change with the size of the training set.
 */
export function taskSplit(options: TaskSplitOptions): { train: Task[]; eval: Task[] } {
  const kinds = options.kinds ?? TASK_KINDS;
  const random = new Random(options.seed);
  const seen = new Set<string>();
  const exhausted = new Set<TaskKind>();
  let turn = 0;
  const draw = (count: number) => {
    const tasks: Task[] = [];
    // Some kinds have few distinct prompts (next: 1,000): one that has run out is skipped, and the
    // others fill its turns.
    for (let misses = 0; tasks.length < count; ) {
      const kind = kinds[turn % kinds.length]!;
      if (exhausted.has(kind)) {
        turn++;
        continue;
      }
      const task = drawTask(kind, random);
      if (seen.has(task.prompt)) {
        if (++misses > 10_000) {
          exhausted.add(kind);
          misses = 0;
          if (exhausted.size === kinds.length) throw new RangeError(`cannot draw more distinct '${kinds.join("', '")}' tasks: asked for ${options.train + options.eval} tasks`);
        }
        continue;
      }
      misses = 0;
      seen.add(task.prompt);
      tasks.push(task);
      turn++;
    }
    return tasks;
  };
  const evaluation = draw(options.eval);
  return { train: draw(options.train), eval: evaluation };
}
