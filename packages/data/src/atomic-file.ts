// Files appear whole or not at all: each is written to a dot-prefixed temp file in its own folder
// (same file system, so the rename cannot become a copy), fsynced, then renamed into place. A crash
// mid-write leaves the previous file, or none, and at worst a stray temp file.
import { randomBytes } from "node:crypto";
import { open, rename, rm, type FileHandle } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

const CHUNK_BYTES = 1 << 20;

/** An append-only file written through a 1 MiB buffer, renamed to `path` by `commit`. */
export class AtomicFileWriter {
  private readonly buffer = new Uint8Array(CHUNK_BYTES);
  private used = 0;

  private constructor(
    readonly path: string,
    private readonly temp: string,
    private readonly handle: FileHandle,
  ) {}

  static async create(path: string): Promise<AtomicFileWriter> {
    const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
    return new AtomicFileWriter(path, temp, await open(temp, "wx"));
  }

  async write(bytes: Uint8Array): Promise<void> {
    if (this.used + bytes.length > this.buffer.length) await this.flush();
    if (bytes.length >= this.buffer.length) {
      await writeAll(this.handle, bytes);
      return;
    }
    this.buffer.set(bytes, this.used);
    this.used += bytes.length;
  }

  async commit(): Promise<void> {
    await this.flush();
    await this.handle.sync();
    await this.handle.close();
    await rename(this.temp, this.path);
  }

  /** Drops the temp file; safe to call after a failed write or commit. */
  async abort(): Promise<void> {
    await this.handle.close().catch(() => undefined);
    await rm(this.temp, { force: true });
  }

  private async flush(): Promise<void> {
    if (this.used === 0) return;
    await writeAll(this.handle, this.buffer.subarray(0, this.used));
    this.used = 0;
  }
}

async function writeAll(handle: FileHandle, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length; ) at += (await handle.write(bytes, at, bytes.length - at)).bytesWritten;
}

export async function atomicWriteText(path: string, text: string): Promise<void> {
  const writer = await AtomicFileWriter.create(path);
  try {
    await writer.write(new TextEncoder().encode(text));
    await writer.commit();
  } catch (error) {
    await writer.abort();
    throw error;
  }
}

/** Makes renames in `folder` durable; best effort, as some platforms cannot open a folder. */
export async function syncFolder(folder: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(folder, "r");
    await handle.sync();
  } catch {
    // see above
  } finally {
    await handle?.close().catch(() => undefined);
  }
}
