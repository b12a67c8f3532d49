// How a store run walks the corpus. Each document is scored from its own <bos>: the store is keyed
// by (document, position), not by the training stream, whose order depends on a seed. A document
// longer than the window is cut into consecutive windows [0, L), [L, 2L), ...: every position is
// scored exactly once, and a window's first positions see only the window (the context restarts).
// Windows are grouped into teacher calls greedily, in corpus order, while rows x longest row stays
// within `batchTokens`. The grouping depends only on the settings, so a resumed run repeats the very
// calls (the same shapes) of an uninterrupted one, and the floats come out the same.

export interface Window {
  document: number;
  /** Position of the window's first token within the document. */
  from: number;
  count: number;
  /** Corpus position of the window's first token. */
  position: number;
}

export function planWindows(lengths: ArrayLike<number>, windowLength: number): Window[] {
  const windows: Window[] = [];
  let position = 0;
  for (let document = 0; document < lengths.length; document++) {
    const length = lengths[document]!;
    for (let from = 0; from < length; from += windowLength) {
      const count = Math.min(windowLength, length - from);
      windows.push({ document, from, count, position: position + from });
    }
    position += length;
  }
  return windows;
}

/** [first, end) window ranges, one teacher call each; at least one window per call. */
export function planCalls(windows: readonly Window[], batchTokens: number): { first: number; end: number }[] {
  const calls: { first: number; end: number }[] = [];
  let first = 0;
  while (first < windows.length) {
    let end = first + 1;
    let longest = windows[first]!.count;
    while (end < windows.length) {
      const next = Math.max(longest, windows[end]!.count);
      if ((end - first + 1) * next > batchTokens) break;
      longest = next;
      end++;
    }
    calls.push({ first, end });
    first = end;
  }
  return calls;
}
