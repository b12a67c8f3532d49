// A tiny valid tokenizer.json in Gemma's shape, for tests that break one field at a time.

export function tinyTokenizerJson(): Record<string, any> {
  return {
    version: "1.0",
    added_tokens: [{ id: 0, content: "<bos>", special: true, normalized: false, lstrip: false, rstrip: false, single_word: false }],
    normalizer: { type: "Replace", pattern: { String: " " }, content: "▁" },
    pre_tokenizer: null,
    post_processor: null,
    decoder: { type: "Sequence", decoders: [{ type: "Replace", pattern: { String: "▁" }, content: " " }, { type: "Fuse" }] },
    model: {
      type: "BPE",
      unk_token: "<unk>",
      byte_fallback: false,
      vocab: { "<bos>": 0, "<unk>": 1, a: 2, b: 3, ab: 4, "▁": 5 },
      merges: ["a b"],
    },
  };
}
