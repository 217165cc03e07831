// taskgen's msgpack codec, written to match msgspec byte for byte.
//
// @msgpack/msgpack cannot do two things the wire needs: write an integral float as a float64
// (JavaScript has one number type, msgspec writes every Python float as float64), and read a
// map into an ordered Map that keeps int keys in their order (a JS object reorders them). So
// taskgen writes and reads msgpack itself: the format is small, and this file is all of it.

/** An extension value: its type code and payload. */
export class Ext {
  constructor(
    readonly type: number,
    readonly data: Uint8Array,
  ) {}
}

/** A value read from msgpack: maps keep their order and their key types. */
export type Node =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | Node[]
  | Map<Node, Node>
  | Ext
  | Float;

/** A float read from msgpack, kept apart from ints so a union of int and float can tell them. */
export class Float {
  constructor(readonly value: number) {}
}

/** The msgpack extension type of an int beyond 64 bits (big-endian two's complement). */
export const BIG_INT = 1;
/** The msgpack timestamp extension type. */
export const TIMESTAMP = -1;

const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** Appends msgpack values to a growing buffer. */
export class Writer {
  private buffer = new Uint8Array(256);
  private view = new DataView(this.buffer.buffer);
  length = 0;

  private room(size: number): void {
    if (this.length + size <= this.buffer.length) return;
    let capacity = this.buffer.length * 2;
    while (capacity < this.length + size) capacity *= 2;
    const bigger = new Uint8Array(capacity);
    bigger.set(this.buffer.subarray(0, this.length));
    this.buffer = bigger;
    this.view = new DataView(bigger.buffer);
  }

  private byte(value: number): void {
    this.room(1);
    this.buffer[this.length++] = value;
  }

  private u16(value: number): void {
    this.room(2);
    this.view.setUint16(this.length, value);
    this.length += 2;
  }

  private u32(value: number): void {
    this.room(4);
    this.view.setUint32(this.length, value);
    this.length += 4;
  }

  /** The bytes written so far. */
  bytes(): Uint8Array {
    return this.buffer.slice(0, this.length);
  }

  /** Bytes that already are msgpack (an encoded value), as they are. */
  raw(data: Uint8Array): void {
    this.room(data.length);
    this.buffer.set(data, this.length);
    this.length += data.length;
  }

  nil(): void {
    this.byte(0xc0);
  }

  bool(value: boolean): void {
    this.byte(value ? 0xc3 : 0xc2);
  }

  /** An int in the fewest bytes; beyond 64 bits, extension type 1. */
  int(value: number | bigint): void {
    if (typeof value === "number") {
      if (value >= 0) {
        if (value < 0x80) return this.byte(value);
        if (value <= 0xff) return (this.byte(0xcc), this.byte(value));
        if (value <= 0xffff) return (this.byte(0xcd), this.u16(value));
        if (value <= 0xffffffff) return (this.byte(0xce), this.u32(value));
      } else {
        if (value >= -32) return this.byte(value & 0xff);
        if (value >= -0x80) return (this.byte(0xd0), this.byte(value & 0xff));
        if (value >= -0x8000) return (this.byte(0xd1), this.u16(value & 0xffff));
        if (value >= -0x80000000) return (this.byte(0xd2), this.u32(value >>> 0));
      }
      return this.int(BigInt(value));
    }
    if (value >= -0x80000000n && value <= 0xffffffffn) return this.int(Number(value));
    if (value > 0n && value <= UINT64_MAX) {
      this.byte(0xcf);
      this.room(8);
      this.view.setBigUint64(this.length, value);
      this.length += 8;
    } else if (value < 0n && value >= INT64_MIN) {
      this.byte(0xd3);
      this.room(8);
      this.view.setBigInt64(this.length, value);
      this.length += 8;
    } else {
      this.ext(BIG_INT, twosComplement(value));
    }
  }

  float(value: number): void {
    this.byte(0xcb);
    this.room(8);
    this.view.setFloat64(this.length, value);
    this.length += 8;
  }

  str(value: string): void {
    const data = encoder.encode(value);
    const n = data.length;
    if (n < 32) this.byte(0xa0 | n);
    else if (n <= 0xff) (this.byte(0xd9), this.byte(n));
    else if (n <= 0xffff) (this.byte(0xda), this.u16(n));
    else (this.byte(0xdb), this.u32(n));
    this.raw(data);
  }

  bin(data: Uint8Array): void {
    const n = data.length;
    if (n <= 0xff) (this.byte(0xc4), this.byte(n));
    else if (n <= 0xffff) (this.byte(0xc5), this.u16(n));
    else (this.byte(0xc6), this.u32(n));
    this.raw(data);
  }

  array(size: number): void {
    if (size < 16) this.byte(0x90 | size);
    else if (size <= 0xffff) (this.byte(0xdc), this.u16(size));
    else (this.byte(0xdd), this.u32(size));
  }

  map(size: number): void {
    if (size < 16) this.byte(0x80 | size);
    else if (size <= 0xffff) (this.byte(0xde), this.u16(size));
    else (this.byte(0xdf), this.u32(size));
  }

  ext(type: number, data: Uint8Array): void {
    const n = data.length;
    const fixed: Record<number, number> = { 1: 0xd4, 2: 0xd5, 4: 0xd6, 8: 0xd7, 16: 0xd8 };
    const code = fixed[n];
    if (code !== undefined) this.byte(code);
    else if (n <= 0xff) (this.byte(0xc7), this.byte(n));
    else if (n <= 0xffff) (this.byte(0xc8), this.u16(n));
    else (this.byte(0xc9), this.u32(n));
    this.byte(type & 0xff);
    this.raw(data);
  }

  /** A moment as msgspec writes an aware datetime: the smallest timestamp extension. */
  timestamp(milliseconds: number): void {
    const seconds = Math.floor(milliseconds / 1000);
    const nanoseconds = (milliseconds - seconds * 1000) * 1_000_000;
    if (seconds >= 0 && seconds < 2 ** 34) {
      if (nanoseconds === 0 && seconds < 2 ** 32) {
        const data = new Uint8Array(4);
        new DataView(data.buffer).setUint32(0, seconds);
        return this.ext(TIMESTAMP, data);
      }
      const data = new Uint8Array(8);
      const view = new DataView(data.buffer);
      view.setUint32(0, nanoseconds * 4 + Math.floor(seconds / 2 ** 32));
      view.setUint32(4, seconds >>> 0);
      return this.ext(TIMESTAMP, data);
    }
    const data = new Uint8Array(12);
    const view = new DataView(data.buffer);
    view.setUint32(0, nanoseconds);
    view.setBigInt64(4, BigInt(seconds));
    this.ext(TIMESTAMP, data);
  }
}

/** An int as big-endian two's complement in as few bytes as hold its sign. */
export function twosComplement(value: bigint): Uint8Array {
  let size = 1;
  while (value < -(1n << BigInt(8 * size - 1)) || value >= 1n << BigInt(8 * size - 1)) size++;
  let rest = BigInt.asUintN(8 * size, value);
  const data = new Uint8Array(size);
  for (let i = size - 1; i >= 0; i--) {
    data[i] = Number(rest & 0xffn);
    rest >>= 8n;
  }
  return data;
}

/** The int that big-endian two's complement bytes hold. */
export function fromTwosComplement(data: Uint8Array): bigint {
  let value = 0n;
  for (const byte of data) value = (value << 8n) | BigInt(byte);
  return BigInt.asIntN(8 * data.length, value);
}

/** The moment a timestamp extension holds, in epoch milliseconds. */
export function timestampMillis(data: Uint8Array): number {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (data.length === 4) return view.getUint32(0) * 1000;
  if (data.length === 8) {
    const high = view.getUint32(0);
    const nanoseconds = Math.floor(high / 4);
    const seconds = (high % 4) * 2 ** 32 + view.getUint32(4);
    return seconds * 1000 + Math.floor(nanoseconds / 1_000_000);
  }
  if (data.length === 12) {
    const nanoseconds = view.getUint32(0);
    return Number(view.getBigInt64(4)) * 1000 + Math.floor(nanoseconds / 1_000_000);
  }
  throw new Error(`a timestamp extension holds 4, 8 or 12 bytes, not ${data.length}`);
}

/** Reads msgpack values one after another from a buffer. */
export class Reader {
  private at = 0;
  private readonly view: DataView;

  constructor(private readonly data: Uint8Array) {
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }

  /** The whole buffer as one value; trailing bytes are an error. */
  static decode(data: Uint8Array): Node {
    const reader = new Reader(data);
    const value = reader.read();
    if (reader.at !== data.length) throw new Error("msgpack: trailing bytes after the value");
    return value;
  }

  /** The bytes of the next value, unread: to keep an encoded value as it is. */
  skip(): Uint8Array {
    const start = this.at;
    this.read();
    return this.data.subarray(start, this.at);
  }

  private take(size: number): Uint8Array {
    if (this.at + size > this.data.length) throw new Error("msgpack: truncated value");
    const part = this.data.subarray(this.at, this.at + size);
    this.at += size;
    return part;
  }

  private u8(): number {
    return this.take(1)[0]!;
  }

  private u16(): number {
    const value = this.view.getUint16(this.at);
    this.take(2);
    return value;
  }

  private u32(): number {
    const value = this.view.getUint32(this.at);
    this.take(4);
    return value;
  }

  read(): Node {
    const head = this.u8();
    if (head < 0x80) return head;
    if (head >= 0xe0) return head - 0x100;
    if (head <= 0x8f) return this.mapOf(head & 0x0f);
    if (head <= 0x9f) return this.arrayOf(head & 0x0f);
    if (head <= 0xbf) return this.strOf(head & 0x1f);
    switch (head) {
      case 0xc0:
        return null;
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xc4:
        return this.take(this.u8()).slice();
      case 0xc5:
        return this.take(this.u16()).slice();
      case 0xc6:
        return this.take(this.u32()).slice();
      case 0xc7:
        return this.extOf(this.u8());
      case 0xc8:
        return this.extOf(this.u16());
      case 0xc9:
        return this.extOf(this.u32());
      case 0xca: {
        const value = this.view.getFloat32(this.at);
        this.take(4);
        return new Float(value);
      }
      case 0xcb: {
        const value = this.view.getFloat64(this.at);
        this.take(8);
        return new Float(value);
      }
      case 0xcc:
        return this.u8();
      case 0xcd:
        return this.u16();
      case 0xce:
        return this.u32();
      case 0xcf:
        return small(this.view.getBigUint64(this.at), this.take(8));
      case 0xd0:
        return this.view.getInt8(this.at) + (this.take(1), 0);
      case 0xd1:
        return this.view.getInt16(this.at) + (this.take(2), 0);
      case 0xd2:
        return this.view.getInt32(this.at) + (this.take(4), 0);
      case 0xd3:
        return small(this.view.getBigInt64(this.at), this.take(8));
      case 0xd4:
        return this.extOf(1);
      case 0xd5:
        return this.extOf(2);
      case 0xd6:
        return this.extOf(4);
      case 0xd7:
        return this.extOf(8);
      case 0xd8:
        return this.extOf(16);
      case 0xd9:
        return this.strOf(this.u8());
      case 0xda:
        return this.strOf(this.u16());
      case 0xdb:
        return this.strOf(this.u32());
      case 0xdc:
        return this.arrayOf(this.u16());
      case 0xdd:
        return this.arrayOf(this.u32());
      case 0xde:
        return this.mapOf(this.u16());
      case 0xdf:
        return this.mapOf(this.u32());
    }
    throw new Error(`msgpack: unknown type byte 0x${head.toString(16)}`);
  }

  private strOf(size: number): string {
    return decoder.decode(this.take(size));
  }

  private arrayOf(size: number): Node[] {
    const items: Node[] = [];
    for (let i = 0; i < size; i++) items.push(this.read());
    return items;
  }

  private mapOf(size: number): Map<Node, Node> {
    const map = new Map<Node, Node>();
    for (let i = 0; i < size; i++) {
      const key = this.read();
      map.set(key, this.read());
    }
    return map;
  }

  private extOf(size: number): Node {
    const type = (this.u8() << 24) >> 24;
    const data = this.take(size).slice();
    if (type === BIG_INT) return small(fromTwosComplement(data), data);
    return new Ext(type, data);
  }
}

/** A 64-bit int as a number when that is exact, else a bigint. */
function small(value: bigint, _read: Uint8Array): number | bigint {
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(value)
    : value;
}
