// SentencePiece's PrefixMatcher (normalizer.h): the longest user-defined symbol that starts at a
// position. The normalizer matches on the UTF-8 bytes of the raw text (so those symbols escape
// normalization), the BPE model on the normalized string (so they become one frozen symbol).

interface TrieNode {
  children: Map<number, TrieNode>;
  terminal: boolean;
}

export class PrefixMatcher {
  private readonly root: TrieNode = { children: new Map(), terminal: false };
  readonly size: number;

  private constructor(keys: readonly ArrayLike<number>[]) {
    let size = 0;
    for (const key of keys) {
      if (key.length === 0) continue;
      let node = this.root;
      for (let i = 0; i < key.length; i++) {
        let child = node.children.get(key[i]!);
        if (!child) {
          child = { children: new Map(), terminal: false };
          node.children.set(key[i]!, child);
        }
        node = child;
      }
      if (!node.terminal) size++;
      node.terminal = true;
    }
    this.size = size;
  }

  /** Keys are the UTF-8 bytes of the symbols. */
  static forUtf8(symbols: readonly string[]): PrefixMatcher {
    const encoder = new TextEncoder();
    return new PrefixMatcher(symbols.map((symbol) => encoder.encode(symbol)));
  }

  /** Keys are the UTF-16 code units of the symbols. */
  static forUtf16(symbols: readonly string[]): PrefixMatcher {
    return new PrefixMatcher(symbols.map((symbol) => Array.from({ length: symbol.length }, (_, i) => symbol.charCodeAt(i))));
  }

  /** Length in bytes of the longest symbol that prefixes bytes[start, end), or 0. */
  longestInBytes(bytes: Uint8Array, start: number, end: number): number {
    let node: TrieNode | undefined = this.root;
    let longest = 0;
    for (let i = start; i < end; i++) {
      node = node.children.get(bytes[i]!);
      if (!node) break;
      if (node.terminal) longest = i + 1 - start;
    }
    return longest;
  }

  /** Length in code units of the longest symbol that starts at text[start], or 0. */
  longestInString(text: string, start: number): number {
    let node: TrieNode | undefined = this.root;
    let longest = 0;
    for (let i = start; i < text.length; i++) {
      node = node.children.get(text.charCodeAt(i));
      if (!node) break;
      if (node.terminal) longest = i + 1 - start;
    }
    return longest;
  }
}
