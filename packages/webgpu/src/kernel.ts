// A kernel is WGSL source with a key (kernels with one key have one source). A launch binds the
// run's metadata words (sizes, strides, offsets, scalars) at binding 0 and the given buffers at
// 1, 2, ...; every kernel reads its element count or sizes from the metadata, so one compiled
// pipeline serves every shape.
export interface Kernel {
  readonly key: string;
  wgsl(): string;
}

export interface Launch {
  readonly kernel: Kernel;
  readonly buffers: readonly GPUBuffer[];
  /** u32 words; floats and signed ints as their bits (see f32Bits, i32Bits). */
  readonly meta: readonly number[];
  readonly workgroups: readonly [number, number, number];
}

/** Threads per workgroup of the one-thread-per-item kernels. */
export const WORKGROUP_SIZE = 64;
const MAX_GROUPS_PER_DIMENSION = 65535;

/** Workgroups for `threads` threads: x up to the per-dimension limit, then y (see itemIndex). */
export function workgroupsFor(threads: number, size = WORKGROUP_SIZE): [number, number, number] {
  const groups = Math.ceil(threads / size);
  if (groups <= MAX_GROUPS_PER_DIMENSION) return [groups, 1, 1];
  return [MAX_GROUPS_PER_DIMENSION, Math.ceil(groups / MAX_GROUPS_PER_DIMENSION), 1];
}

const scratch = new DataView(new ArrayBuffer(4));

export function f32Bits(value: number): number {
  scratch.setFloat32(0, value, true);
  return scratch.getUint32(0, true);
}

export function i32Bits(value: number): number {
  return value >>> 0;
}

/** The metadata binding and the entry point of a one-thread-per-item kernel; `i` is the item. */
export function itemKernel(declarations: string, body: string): string {
  return `@group(0) @binding(0) var<storage, read> info: array<u32>;
${declarations}
@compute @workgroup_size(${WORKGROUP_SIZE})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = gid.x + gid.y * groups.x * ${WORKGROUP_SIZE}u;
  if (i >= info[0]) { return; }
${body}
}
`;
}

/** `var<storage, ...>` declarations at bindings 1, 2, ... */
export function storageBindings(list: readonly (readonly [name: string, type: string, access: "read" | "read_write"])[]): string {
  return list.map(([name, type, access], index) => `@group(0) @binding(${index + 1}) var<storage, ${access}> ${name}: array<${type}>;`).join("\n");
}
