// Atomic file replacement: write a temp file in the destination's folder (same file system, so the
// rename cannot turn into a copy), fsync it, rename it over the destination, fsync the folder.
// A crash at any point leaves either the old file or the complete new one, never half a checkpoint.
import { randomBytes } from "node:crypto";
import { open, rename, rm, type FileHandle } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { writeAll } from "./file-handle-io.js";

/** Runs `write` against a fresh temp file, then atomically moves it to `path`. */
export async function atomicWrite(path: string, write: (handle: FileHandle) => Promise<void>): Promise<void> {
  const folder = dirname(path);
  // The leading dot and random suffix keep temp files out of globs and apart from concurrent writers.
  const temp = join(folder, `.${basename(path)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  const handle = await open(temp, "wx");
  try {
    await write(handle);
    await handle.sync();
  } catch (error) {
    await handle.close().catch(() => undefined);
    await rm(temp, { force: true });
    throw error;
  }
  await handle.close();
  try {
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  await syncFolder(folder);
}

export async function atomicWriteFile(path: string, data: string | Uint8Array): Promise<void> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  await atomicWrite(path, (handle) => writeAll(handle, bytes, 0));
}

/** Makes the rename itself durable. Some platforms (Windows) cannot open a folder; the rename is still atomic there. */
async function syncFolder(folder: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(folder, "r");
    await handle.sync();
  } catch {
    // best effort, see above
  } finally {
    await handle?.close().catch(() => undefined);
  }
}
