// @gemma-ts/core/node: file IO (Hugging Face folders, safetensors, GGUF) and the onnxruntime-node
// backend. Node only.
export {};
