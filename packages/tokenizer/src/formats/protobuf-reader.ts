// A minimal reader of the protobuf wire format (protobuf.dev/programming-guides/encoding), enough
// to walk a SentencePiece ModelProto: varints, 32- and 64-bit fixed values, length-delimited
// fields, and skipping of unknown fields. A truncated buffer or a bad tag is reported as a
// MalformedTokenizerFileError naming the byte offset and the message being read.
import { MalformedTokenizerFileError } from "../errors.js";

export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_LENGTH_DELIMITED = 2;
export const WIRE_FIXED32 = 5;

export interface ProtoField {
  number: number;
  wireType: number;
  /** Byte offset of the field's tag in the whole buffer, for error messages. */
  offset: number;
}

export class ProtobufReader {
  private position: number;
  private readonly view: DataView;
  // ignoreBOM: a piece may start with U+FEFF, which TextDecoder would otherwise drop.
  private readonly utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

  /**
   * Reads bytes[start, end). `path` names the message (e.g. `ModelProto.pieces[3]`) in errors;
   * offsets in errors are always offsets into the whole buffer.
   */
  constructor(
    private readonly bytes: Uint8Array,
    readonly path: string,
    start = 0,
    private readonly end = bytes.length,
  ) {
    this.position = start;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  fail(offset: number, problem: string): never {
    throw new MalformedTokenizerFileError(`byte ${offset}`, `${problem} (in ${this.path})`);
  }

  /** The next field's tag, or undefined at the end of the message. */
  nextField(): ProtoField | undefined {
    if (this.position >= this.end) return undefined;
    const offset = this.position;
    const tag = this.varint64();
    // Tags are uint32: field numbers run from 1 to 2^29 - 1.
    if (tag.high !== 0 || tag.low >>> 3 === 0) this.fail(offset, "invalid field number 0 or above 2^29 in a tag");
    const wireType = tag.low & 7;
    if (wireType !== WIRE_VARINT && wireType !== WIRE_FIXED64 && wireType !== WIRE_LENGTH_DELIMITED && wireType !== WIRE_FIXED32) {
      // 3 and 4 are proto2 groups, which no SentencePiece message uses; 6 and 7 do not exist.
      this.fail(offset, `bad wire type ${wireType} for field ${tag.low >>> 3}; not a protobuf message, or a corrupt one`);
    }
    return { number: tag.low >>> 3, wireType, offset };
  }

  /** Skips the value of a field whose tag was just read. */
  skip(field: ProtoField): void {
    switch (field.wireType) {
      case WIRE_VARINT:
        this.varint64();
        return;
      case WIRE_FIXED64:
        this.advance(8, "a 64-bit value");
        return;
      case WIRE_FIXED32:
        this.advance(4, "a 32-bit value");
        return;
      default:
        this.advance(this.length(), "a length-delimited value");
    }
  }

  /** A varint as its low and high 32 bits (both unsigned). */
  varint64(): { low: number; high: number } {
    const start = this.position;
    let low = 0;
    let high = 0;
    for (let i = 0; i < 10; i++) {
      if (this.position >= this.end) this.fail(start, "truncated: a varint runs past the end of the data; is the file truncated?");
      const byte = this.bytes[this.position++]!;
      const bits = byte & 0x7f;
      if (i < 4) low |= bits << (7 * i);
      else if (i === 4) {
        low |= bits << 28;
        high = bits >>> 4;
      } else high |= bits << (7 * i - 32);
      if ((byte & 0x80) === 0) return { low: low >>> 0, high: high >>> 0 };
    }
    return this.fail(start, "a varint longer than 10 bytes");
  }

  uint32(): number {
    return this.varint64().low;
  }

  /** int32 fields: negative values are sign-extended to 10-byte varints; the low 32 bits hold them. */
  int32(): number {
    return this.varint64().low | 0;
  }

  bool(): boolean {
    const { low, high } = this.varint64();
    return low !== 0 || high !== 0;
  }

  float(): number {
    const at = this.advance(4, "a float");
    return this.view.getFloat32(at, true);
  }

  bytesField(): Uint8Array {
    const length = this.length();
    const at = this.advance(length, "a length-delimited value");
    return this.bytes.subarray(at, at + length);
  }

  string(): string {
    const offset = this.position;
    const bytes = this.bytesField();
    try {
      return this.utf8.decode(bytes);
    } catch {
      return this.fail(offset, "a string field that is not valid UTF-8");
    }
  }

  /** A reader over an embedded message. */
  message(path: string): ProtobufReader {
    const length = this.length();
    const at = this.advance(length, `the embedded message ${path}`);
    return new ProtobufReader(this.bytes, path, at, at + length);
  }

  /** Checks that a field has the wire type its schema gives it. */
  expect(field: ProtoField, wireType: number, name: string): void {
    if (field.wireType !== wireType) {
      this.fail(field.offset, `field ${name} (${field.number}) has wire type ${field.wireType}, expected ${wireType}`);
    }
  }

  private length(): number {
    const offset = this.position;
    const { low, high } = this.varint64();
    if (high !== 0 || low > this.end - this.position) {
      this.fail(offset, `truncated: a length of ${high !== 0 ? "over 2^32" : low} bytes runs past the end of the data; is the file truncated?`);
    }
    return low;
  }

  /** Moves past `count` bytes; returns where they start. */
  private advance(count: number, what: string): number {
    const at = this.position;
    if (count > this.end - at) this.fail(at, `truncated: ${what} runs past the end of the data; is the file truncated?`);
    this.position = at + count;
    return at;
  }
}
