// A Hugging Face checkpoint held in memory: config.json's object and the bytes of its safetensors
// files, as a browser has them from fetch() or a file input. No file access, so it is part of the
// browser-safe index; the checks are loadHfCheckpoint's (checkpoint-specs.ts).
import { MalformedCheckpointError } from "../errors.js";
import { configFromHf, type Gemma2Config } from "../models/gemma2/config.js";
import { type Gemma2Params, parameterSpecs } from "../models/gemma2/params.js";
import { HostTensor } from "../tensor/host-tensor.js";
import { checkAgainstSpecs } from "./checkpoint-specs.js";
import { hostDType, MAX_HEADER_BYTES, parseSafetensorsHeader, type SafetensorsTensorInfo } from "./safetensors-format.js";

export interface SafetensorsBytes {
  /** The file's name, for messages (e.g. "model.safetensors"). */
  readonly name: string;
  readonly bytes: Uint8Array;
}

export function checkpointFromBytes(configJson: unknown, files: readonly SafetensorsBytes[]): { config: Gemma2Config; params: Gemma2Params } {
  const config = configFromHf(configJson);
  const located = new Map<string, { file: SafetensorsBytes; info: SafetensorsTensorInfo; dataStart: number }>();
  for (const file of files) {
    const { bytes, name } = file;
    if (bytes.length < 8) throw new MalformedCheckpointError(name, `the file is ${bytes.length} bytes, too short for the 8-byte header length`);
    const headerBytes = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
    if (headerBytes > BigInt(bytes.length - 8)) throw new MalformedCheckpointError(name, `header length ${headerBytes} runs past the end of the ${bytes.length}-byte file (truncated, or not safetensors)`);
    if (headerBytes > BigInt(MAX_HEADER_BYTES)) throw new MalformedCheckpointError(name, `header length ${headerBytes} exceeds the format's ${MAX_HEADER_BYTES}-byte limit`);
    const dataStart = 8 + Number(headerBytes);
    const layout = parseSafetensorsHeader(name, bytes.subarray(8, dataStart), bytes.length - dataStart);
    for (const info of layout.tensors) {
      const other = located.get(info.name);
      if (other) throw new MalformedCheckpointError(name, `tensor '${info.name}' is also in ${other.file.name}`);
      located.set(info.name, { file, info, dataStart });
    }
  }
  const wanted = checkAgainstSpecs(parameterSpecs(config), new Map([...located].map(([name, { file, info }]) => [name, { file: file.name, info }])));
  const params: Gemma2Params = new Map();
  for (const name of wanted) {
    const { file, info, dataStart } = located.get(name)!;
    const dtype = hostDType(info, file.name) as "float32" | "float16" | "bfloat16";
    // A copy: the data may sit at any byte offset, and typed arrays need their element alignment.
    const raw = file.bytes.slice(dataStart + info.begin, dataStart + info.end).buffer;
    params.set(name, dtype === "float32" ? new HostTensor("float32", info.shape, new Float32Array(raw)) : new HostTensor(dtype, info.shape, new Uint16Array(raw)).toFloat32());
  }
  return { config, params };
}
