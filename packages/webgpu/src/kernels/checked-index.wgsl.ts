// Index checking on the GPU. A kernel cannot throw, so one that reads an index out of range
// records the first such index (the node, the value, the limit) in the run's error buffer, uses
// row 0 instead, and the executable throws after the run: ONNX's semantics (indices in
// [-limit, limit), negative ones counting from the end), reported as the reference backend does.
export const ERROR_WORDS = 4;

export const ERROR_BINDING_TYPE = "atomic<u32>";

export const CHECKED_INDEX = `
fn checked_index_(value: i32, limit: u32, node: u32) -> u32 {
  var index = value;
  if (index < 0) { index += i32(limit); }
  if (index < 0 || u32(index) >= limit) {
    // The first thread to count an error records it (atomicAdd: SwiftShader aborts on compare-exchange).
    if (atomicAdd(&errors[0], 1u) == 0u) {
      atomicStore(&errors[1], node);
      atomicStore(&errors[2], bitcast<u32>(value));
      atomicStore(&errors[3], limit);
    }
    return 0u;
  }
  return u32(index);
}
`;
