// Added tokens (specials such as <bos>, <start_of_turn>, and Gemma's newline runs, '▁' runs and
// HTML tags) are found in the text before the model runs, as Hugging Face's AddedVocabulary does:
// leftmost match first, longest match at that position, non-overlapping. Tokens flagged
// `normalized: false` are matched in the raw text, the others in the normalized text.

export interface AddedToken {
  id: number;
  content: string;
  special: boolean;
  /** Match against the normalized text rather than the raw text. */
  normalized: boolean;
  /** Swallow whitespace on the left / right of the match. */
  lstrip: boolean;
  rstrip: boolean;
  /** Only match when not glued to a word character on either side. */
  singleWord: boolean;
}

/** A stretch of text, either an added token (`id` set) or text for the model (`id` undefined). */
export interface Segment {
  text: string;
  id: number | undefined;
}

/** A character trie over UTF-16 code units; each node maps a code unit to its child. */
interface TrieNode {
  children: Map<number, TrieNode>;
  token: AddedToken | undefined;
}

class TokenTrie {
  private readonly root: TrieNode = { children: new Map(), token: undefined };
  /** First code units of every token: a quick reject for the vast majority of positions. */
  private readonly firstUnits = new Uint8Array(65536);
  readonly size: number;

  constructor(tokens: readonly AddedToken[]) {
    let size = 0;
    for (const token of tokens) {
      if (token.content.length === 0) continue;
      let node = this.root;
      for (let i = 0; i < token.content.length; i++) {
        const unit = token.content.charCodeAt(i);
        let child = node.children.get(unit);
        if (!child) {
          child = { children: new Map(), token: undefined };
          node.children.set(unit, child);
        }
        node = child;
      }
      // The same content twice keeps the first definition, as Hugging Face does.
      if (!node.token) {
        node.token = token;
        size++;
      }
      this.firstUnits[token.content.charCodeAt(0)] = 1;
    }
    this.size = size;
  }

  /** The longest token that starts at `start`, if any. */
  longestAt(text: string, start: number): AddedToken | undefined {
    let node: TrieNode | undefined = this.root;
    let found: AddedToken | undefined;
    for (let i = start; i < text.length; i++) {
      node = node.children.get(text.charCodeAt(i));
      if (!node) break;
      if (node.token) found = node.token;
    }
    return found;
  }

  mayStartAt(unit: number): boolean {
    return this.firstUnits[unit] === 1;
  }
}

// Rust's char::is_whitespace (the White_Space property), used by lstrip/rstrip.
const WHITESPACE = /^[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]$/u;
// Rust's char::is_alphanumeric or '_': what single_word treats as part of a word.
const WORD_CHAR = /[\p{Alphabetic}\p{Nd}\p{Nl}\p{No}_]/u;

export class AddedVocabulary {
  private readonly rawTrie: TokenTrie;
  private readonly normalizedTrie: TokenTrie;
  private readonly byId = new Map<number, AddedToken>();
  private readonly byContent = new Map<string, AddedToken>();

  constructor(readonly tokens: readonly AddedToken[]) {
    for (const token of tokens) {
      if (!this.byId.has(token.id)) this.byId.set(token.id, token);
      if (!this.byContent.has(token.content)) this.byContent.set(token.content, token);
    }
    this.rawTrie = new TokenTrie(tokens.filter((t) => !t.normalized));
    this.normalizedTrie = new TokenTrie(tokens.filter((t) => t.normalized));
  }

  get hasNormalizedTokens(): boolean {
    return this.normalizedTrie.size > 0;
  }

  tokenById(id: number): AddedToken | undefined {
    return this.byId.get(id);
  }

  tokenByContent(content: string): AddedToken | undefined {
    return this.byContent.get(content);
  }

  /** Splits raw text around the tokens matched before normalization. */
  splitRaw(text: string): Segment[] {
    return splitOnTokens(text, this.rawTrie);
  }

  /** Splits normalized text around the tokens matched after normalization. */
  splitNormalized(text: string): Segment[] {
    return splitOnTokens(text, this.normalizedTrie);
  }
}

function splitOnTokens(text: string, trie: TokenTrie): Segment[] {
  if (trie.size === 0) return [{ text, id: undefined }];
  const segments: Segment[] = [];
  let segmentStart = 0;
  let position = 0;
  while (position < text.length) {
    if (!trie.mayStartAt(text.charCodeAt(position))) {
      position++;
      continue;
    }
    const token = trie.longestAt(text, position);
    if (!token) {
      position++;
      continue;
    }
    let start = position;
    let stop = position + token.content.length;
    if (token.singleWord && !isSingleWord(text, start, stop)) {
      position++;
      continue;
    }
    if (token.lstrip) {
      while (start > segmentStart && WHITESPACE.test(text[start - 1]!)) start--;
    }
    if (token.rstrip) {
      while (stop < text.length && WHITESPACE.test(text[stop]!)) stop++;
    }
    if (segmentStart < start) segments.push({ text: text.slice(segmentStart, start), id: undefined });
    segments.push({ text: text.slice(start, stop), id: token.id });
    segmentStart = stop;
    position = stop;
  }
  if (segmentStart < text.length || segments.length === 0) {
    segments.push({ text: text.slice(segmentStart), id: undefined });
  }
  return segments;
}

function isSingleWord(text: string, start: number, stop: number): boolean {
  const before = start === 0 ? "" : String.fromCodePoint(text.codePointAt(start - 1)!);
  const after = stop >= text.length ? "" : String.fromCodePoint(text.codePointAt(stop)!);
  return !(before && WORD_CHAR.test(before)) && !(after && WORD_CHAR.test(after));
}
