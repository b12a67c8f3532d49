// A seeded generator of the kinds of text a tokenizer gets wrong: runs of spaces, tabs and
// newlines, digits, CJK, emoji ZWJ sequences, combining marks, control characters, characters
// that need byte fallback, special tokens and HTML tags written in the text, literal '▁'.

const FRAGMENTS: readonly (readonly string[])[] = [
  ["the", "The", " of", "tokenizer", "Gemma", "hello", "world", "naïve", "café", "Straße", "don't", "U.S.A."],
  [" ", "  ", "   ", "    ", "\t", "\t\t", " \t ", "\n", "\n\n", "\n\n\n", "\r\n", "\r", " \n ", "\u00a0", "\u3000"],
  ["0", "7", "42", "2024", "3.14159", "1,000,000", "-17", "0x1F", "½", "²", "٣", "१२३"],
  ["中文", "日本語のテキスト", "한국어", "漢字", "𠀋", "𪚲", "ไทย", "עברית", "العربية", "Ελληνικά", "русский"],
  ["😀", "👨‍👩‍👧‍👦", "🏳️‍🌈", "👍🏽", "🇺🇸", "❤️", "🧑‍💻", "🫠"],
  ["e\u0301", "a\u0308\u0304", "\u0915\u094d\u0937", "n\u0303", "\u0301", "Z\u0351\u0352\u0353"],
  ["\u0000", "\u0001", "\u0007", "\u001b[31m", "\u007f", "\u200b", "\u200d", "\ufeff", "\u2028", "\ufffd"],
  ["\u{10000}", "\u{1d11e}", "\ue000", "\u{f0000}", "\u{e0041}", "\u0b9a\u0bcd", "ᚠᛇᚻ", "𓀀"],
  ["<bos>", "<eos>", "<pad>", "<start_of_turn>", "<end_of_turn>", "<unk>", "<mask>", "<unused7>", "<start_of_turn>user\n"],
  ["<table>", "</td>", "<h1>", "<b>", "<code>", "</s>", "<s>", "<not-a-tag>", "<", ">", "</"],
  ["▁", "▁▁", "▁x", "a▁b", "▁▁▁▁"],
  ["function f(x) {\n  return x * 2;\n}", "if (a && b) { c(); }", "SELECT * FROM t;", "def f():\n    pass", "#!/bin/sh"],
  [".", ",", "!", "?", "...", "—", "–", "\"", "'", "«", "»", "(", ")", "[", "]", "{", "}", "@", "#", "$", "%", "&", "*"],
];

/** Mulberry32: a tiny seeded PRNG so the strings are the same on every run. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function variedStrings(count: number, seed = 1): string[] {
  const random = seededRandom(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const strings: string[] = [];
  // Every fragment on its own first, so each kind is covered at least once.
  for (const group of FRAGMENTS) strings.push(...group);
  while (strings.length < count) {
    const parts = 1 + Math.floor(random() * 12);
    let text = "";
    for (let i = 0; i < parts; i++) text += pick(pick(FRAGMENTS));
    if (random() < 0.1) text = text.repeat(2 + Math.floor(random() * 5));
    strings.push(text);
  }
  return strings.slice(0, count);
}
