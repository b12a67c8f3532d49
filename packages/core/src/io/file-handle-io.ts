// Positional reads and writes on an open file handle that finish the job: fs reads and writes may
// move fewer bytes than asked, and one call may not move more than 2 GiB, so both loop in pieces.
import type { FileHandle } from "node:fs/promises";
import { MalformedCheckpointError } from "../errors.js";

/** Under Node's per-call limit (2 GiB - 1), and small enough to keep scratch buffers modest. */
export const MAX_IO_BYTES = 1 << 30;

/** Fills `target` from `position`; a file that ends first is reported as truncated. */
export async function readExactly(handle: FileHandle, target: Uint8Array, position: number, file: string): Promise<void> {
  let done = 0;
  while (done < target.length) {
    const length = Math.min(target.length - done, MAX_IO_BYTES);
    const { bytesRead } = await handle.read(target, done, length, position + done);
    if (bytesRead === 0) throw new MalformedCheckpointError(file, `the file ends at byte ${position + done}, before the ${target.length} bytes expected at byte ${position}`);
    done += bytesRead;
  }
}

/** Writes all of `bytes` at `position`. */
export async function writeAll(handle: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const length = Math.min(bytes.length - done, MAX_IO_BYTES);
    const { bytesWritten } = await handle.write(bytes, done, length, position + done);
    done += bytesWritten;
  }
}
