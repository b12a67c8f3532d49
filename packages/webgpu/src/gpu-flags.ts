// WebGPU's usage and map-mode flags as plain numbers. Browsers define GPUBufferUsage and GPUMapMode
// as globals; Dawn in Node only does after `Object.assign(globalThis, globals)`, a side effect this
// package never performs, so it carries the values (fixed by the WebGPU spec) itself.
export const BufferUsage = {
  MAP_READ: 0x0001,
  COPY_SRC: 0x0004,
  COPY_DST: 0x0008,
  STORAGE: 0x0080,
} as const;

export const MapMode = { READ: 0x0001 } as const;

/** The usage of every buffer a run computes into: kernels write it, reads and copies read it. */
export const STORAGE_USAGE = BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST;
