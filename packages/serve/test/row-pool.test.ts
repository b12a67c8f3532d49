// Which row a new request gets: the one its prompt extends, a row cut back to a shared prefix
// when the cut keeps at least as much as it drops and the sliding window allows it, otherwise an
// empty row, otherwise the least recently used.
import { HostTensor, KVCache, presetConfig } from "@gemma-ts/core";
import { describe, expect, it } from "vitest";
import { RowPool } from "../src/row-pool.js";

const config = { ...presetConfig("gemma2-tiny"), slidingWindow: 8 };

function setup(rows: number) {
  const cache = new KVCache(config, { batchSize: rows, capacity: 64 });
  const pool = new RowPool<string>(cache);
  /** Fills a row the way a finished request leaves it: its ids in the cache, the row free. */
  const fill = (owner: string, ids: number[]) => {
    const { row } = pool.acquire(ids.concat(-1), owner);
    const tensor = HostTensor.float32([1, config.numKeyValueHeads, ids.length, config.headDim]);
    const layers = config.layerTypes.map(() => tensor);
    cache.row(row).append(layers, layers);
    pool.appended(row, ids);
    pool.release(row);
    return row;
  };
  return { cache, pool, fill };
}

describe("RowPool", () => {
  it("gives a prompt the row whose ids it extends, reusing them all", () => {
    const { pool, fill } = setup(3);
    const row = fill("a", [2, 5, 6, 7]);
    expect(pool.acquire([2, 5, 6, 7, 9, 9], "b")).toEqual({ row, reused: 4 });
    expect(pool.busy).toBe(1);
  });

  it("recomputes the last token of a prompt the row holds exactly", () => {
    const { cache, pool, fill } = setup(2);
    const row = fill("a", [2, 5, 6, 7]);
    expect(pool.acquire([2, 5, 6, 7], "b")).toEqual({ row, reused: 3 });
    expect(cache.lengths[row]).toBe(3);
  });

  it("cuts a row back to a shared prefix only if that keeps as much as it drops and the window allows", () => {
    const { pool, fill } = setup(3);
    const short = fill("a", [2, 5, 6, 7, 8, 9]); // 6 ids: within the sliding window of 8
    expect(pool.acquire([2, 5, 6, 1], "b")).toEqual({ row: short, reused: 3 });
    const { pool: pool2, fill: fill2 } = setup(3);
    const kept = fill2("a", [2, 5, 6, 7, 8, 9, 10]);
    // Sharing 2 of 7 ids: an empty row is taken and the conversation stays cached.
    expect(pool2.acquire([2, 5, 1], "b").row).not.toBe(kept);
    const { pool: pool3, fill: fill3 } = setup(2);
    const long = fill3("a", Array.from({ length: 20 }, (_, i) => i + 2)); // past the window: no deep cut
    expect(pool3.acquire([...Array.from({ length: 15 }, (_, i) => i + 2), 1], "b")).toEqual({ row: 1 - long, reused: 0 });
  });

  it("evicts empty rows first, then the least recently used", () => {
    const { pool, fill } = setup(4);
    const first = fill("a", [2, 10, 11]);
    const second = fill("b", [2, 20, 21]);
    const third = fill("c", [2, 30, 31]);
    const empty = pool.acquire([3, 40], "d").row;
    expect([first, second, third]).not.toContain(empty);
    expect(pool.acquire([3, 50], "e").row).toBe(first);
    expect(pool.acquire([3, 60], "f").row).toBe(second);
    pool.release(first);
    pool.clear(); // forgets every idle row's ids
    expect(pool.acquire([2, 30, 31, 32], "g")).toEqual({ row: first, reused: 0 });
  });
});
