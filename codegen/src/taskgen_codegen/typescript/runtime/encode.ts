// Typed values to msgpack, checked against the contract as msgspec would check them, before
// anything is sent. Byte for byte what the Python client writes for the same values.

import { check, textOf } from "./constraints.js";
import { ValidationError } from "./errors.js";
import { Writer } from "./msgpack.js";
import type { Definitions, Field, TypeRef } from "./schema.js";

type Obj = Readonly<Record<string, unknown>>;

/** Where a value is: msgspec's path (``$.a[0].b``), or a dict key (``key`` in ``$.a``). */
class Path {
  constructor(
    readonly text: string,
    readonly key = false,
  ) {}

  field(name: string): Path {
    return new Path(`${this.text}.${name}`);
  }

  index(i: number): Path {
    return new Path(`${this.text}[${i}]`);
  }

  get items(): Path {
    return new Path(`${this.text}[...]`);
  }

  get keyOf(): Path {
    return new Path(this.text, true);
  }

  fail(problem: string): never {
    throw new ValidationError(problem, this.key ? `\`key\` in \`${this.text}\`` : `\`${this.text}\``);
  }
}

const ROOT: Path = new Path("$");

/** Hex digits to bytes (the generated package carries defaults as hex). */
export function fromHex(hex: string): Uint8Array {
  const data = new Uint8Array(hex.length / 2);
  for (let i = 0; i < data.length; i++) data[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return data;
}

const defaults = new Map<string, Uint8Array>();

function defaultBytes(hex: string): Uint8Array {
  let data = defaults.get(hex);
  if (data === undefined) defaults.set(hex, (data = fromHex(hex)));
  return data;
}

/** The msgpack of a task's arguments: a map of every parameter by name, in declared order. */
export function encodeArgs(
  params: readonly { readonly name: string; readonly type: TypeRef; readonly default?: string }[],
  args: Obj,
  definitions: Definitions,
): Uint8Array {
  const w = new Writer();
  for (const name of Object.keys(args)) {
    if (!params.some((p) => p.name === name) && args[name] !== undefined) {
      ROOT.fail(`Object contains unknown field \`${name}\``);
    }
  }
  w.map(params.length);
  for (const param of params) {
    w.str(param.name);
    const value = args[param.name];
    if (value === undefined) {
      if (param.default === undefined) ROOT.fail(`Object missing required field \`${param.name}\``);
      w.raw(defaultBytes(param.default));
    } else {
      new Encoder(definitions).value(w, value, param.type, ROOT.field(param.name));
    }
  }
  return w.bytes();
}

/** Encodes one value of a type; throws ``ValidationError`` at the first problem. */
export class Encoder {
  constructor(private readonly definitions: Definitions) {}

  value(w: Writer, value: unknown, t: TypeRef, path: Path): void {
    switch (t.k) {
      case "none":
        return value === null ? w.nil() : path.fail(expected("null", value));
      case "bool":
        return typeof value === "boolean" ? w.bool(value) : path.fail(expected("bool", value));
      case "int":
        return w.int(integer(value, path));
      case "float":
        if (typeof value !== "number") path.fail(expected("float", value));
        return w.float(value);
      case "str":
        return typeof value === "string" ? w.str(value) : path.fail(expected("str", value));
      case "bytes":
        return value instanceof Uint8Array ? w.bin(value) : path.fail(expected("bytes", value));
      case "datetime":
        if (!(value instanceof Date) || Number.isNaN(value.getTime())) {
          path.fail(expected("datetime", value));
        }
        return w.timestamp(value.getTime());
      case "date":
      case "time":
      case "timedelta":
      case "uuid":
      case "decimal":
        if (typeof value !== "string") path.fail(expected(t.k, value));
        return w.str(textOf(t.k, value, path));
      case "unset":
        return path.fail("Expected a value; leave the field out to send it UNSET");
      case "list":
        if (!Array.isArray(value)) path.fail(expected("array", value));
        w.array(value.length);
        value.forEach((item, i) => this.value(w, item, t.of, path.index(i)));
        return;
      case "set": {
        const items = value instanceof Set ? [...(value as Set<unknown>)] : undefined;
        if (items === undefined) path.fail(expected("set", value));
        w.array(items.length);
        items.forEach((item, i) => this.value(w, item, t.of, path.index(i)));
        return;
      }
      case "tuple":
        if (!Array.isArray(value)) path.fail(expected("array", value));
        if (value.length !== t.items.length) {
          path.fail(`Expected \`array\` of length ${t.items.length}`);
        }
        w.array(value.length);
        t.items.forEach((item, i) => this.value(w, value[i], item, path.index(i)));
        return;
      case "dict": {
        if (!(value instanceof Map)) path.fail(expected("Map", value));
        w.map(value.size);
        for (const [key, item] of value as Map<unknown, unknown>) {
          this.value(w, key, t.key, path.keyOf);
          this.value(w, item, t.value, path.items);
        }
        return;
      }
      case "union":
        return this.value(w, value, this.option(value, t.options, path), path);
      case "literal":
        if (!t.values.includes(value as never)) {
          path.fail(`Invalid enum value ${JSON.stringify(value)}`);
        }
        return this.scalar(w, value);
      case "meta":
        // the type first, then the constraints, as msgspec reports them
        if (this.fits(value, t.of)) check(value, t.of, t.meta, path, this.definitions);
        return this.value(w, value, t.of, path);
      case "ref":
        return this.named(w, value, t.name, path);
    }
  }

  private scalar(w: Writer, value: unknown): void {
    if (value === null) w.nil();
    else if (typeof value === "boolean") w.bool(value);
    else if (typeof value === "string") w.str(value);
    else w.int(value as number);
  }

  private named(w: Writer, value: unknown, name: string, path: Path): void {
    const d = this.definitions[name]!;
    switch (d.k) {
      case "newtype":
        return this.value(w, value, d.base, path);
      case "enum":
        if (d.flag) {
          const mask = d.values.reduce<number>((all, v) => all | (v as number), 0);
          if (typeof value !== "number" || !Number.isInteger(value) || (value & ~mask) !== 0) {
            path.fail(`Invalid enum value ${JSON.stringify(value)}`);
          }
        } else if (!d.values.includes(value as never)) {
          path.fail(`Invalid enum value ${JSON.stringify(value)}`);
        }
        return this.scalar(w, value);
      case "namedtuple":
        return this.namedTuple(w, value, d.fields, path);
      case "typeddict":
        return this.typedDict(w, value, d.fields, path);
      case "struct":
        if (d.arrayLike) return this.structArray(w, value, d, path);
        return this.structMap(w, value, d, path);
    }
  }

  private namedTuple(w: Writer, value: unknown, fields: readonly Field[], path: Path): void {
    if (!Array.isArray(value)) path.fail(expected("array", value));
    if (value.length > fields.length) path.fail(`Expected \`array\` of length <= ${fields.length}`);
    w.array(fields.length);
    fields.forEach((f, i) => this.field(w, value[i], f, path.index(i), path));
  }

  private typedDict(w: Writer, value: unknown, fields: readonly Field[], path: Path): void {
    const obj = object(value, path);
    const present = Object.keys(obj).filter((key) => obj[key] !== undefined);
    for (const f of fields) {
      if (f.required && obj[f.name] === undefined) {
        path.fail(`Object missing required field \`${f.wire}\``);
      }
    }
    w.map(present.length);
    for (const key of present) {
      const f = fields.find((field) => field.name === key);
      if (f === undefined) path.fail(`Object contains unknown field \`${key}\``);
      w.str(f.wire);
      this.value(w, obj[key], f.type, path.field(f.wire));
    }
  }

  private structMap(
    w: Writer,
    value: unknown,
    d: Extract<Definitions[string], { k: "struct" }>,
    path: Path,
  ): void {
    const obj = object(value, path);
    this.unknown(obj, d, path);
    const body = new Writer();
    let count = 0;
    if (d.tagField !== undefined && d.tag !== undefined) {
      body.str(d.tagField);
      this.scalar(body, d.tag);
      count++;
    }
    for (const f of d.fields) {
      if (!f.init) continue; // msgspec leaves a dataclass field outside __init__ off the wire
      const item = obj[f.name];
      if (item === undefined && f.default === undefined) {
        if (f.required) path.fail(`Object missing required field \`${f.wire}\``);
        continue; // UNSET: left out of the message
      }
      const encoded = this.fieldBytes(item, f, path.field(f.wire), path);
      if (d.omitDefaults && omitted(item, encoded, f)) continue;
      body.str(f.wire);
      body.raw(encoded);
      count++;
    }
    w.map(count);
    w.raw(body.bytes());
  }

  private structArray(
    w: Writer,
    value: unknown,
    d: Extract<Definitions[string], { k: "struct" }>,
    path: Path,
  ): void {
    const obj = object(value, path);
    this.unknown(obj, d, path);
    const items: Uint8Array[] = [];
    if (d.tagField !== undefined && d.tag !== undefined) {
      const tag = new Writer();
      this.scalar(tag, d.tag);
      items.push(tag.bytes());
    }
    const first = items.length;
    d.fields.forEach((f, i) => {
      items.push(this.fieldBytes(obj[f.name], f, path.index(first + i), path));
    });
    let size = items.length;
    if (d.omitDefaults) {
      // msgspec leaves trailing defaults out of an array_like Struct with omit_defaults
      while (size > first) {
        const f = d.fields[size - first - 1]!;
        if (!omitted(obj[f.name], items[size - 1]!, f)) break;
        size--;
      }
    }
    w.array(size);
    for (let i = 0; i < size; i++) w.raw(items[i]!);
  }

  private unknown(obj: Obj, d: { readonly fields: readonly Field[]; readonly tagField?: string }, path: Path): void {
    for (const key of Object.keys(obj)) {
      if (obj[key] === undefined || key === d.tagField) continue;
      if (!d.fields.some((f) => f.name === key && f.init)) {
        path.fail(`Object contains unknown field \`${key}\``);
      }
    }
  }

  private field(w: Writer, item: unknown, f: Field, at: Path, owner: Path): void {
    w.raw(this.fieldBytes(item, f, at, owner));
  }

  private fieldBytes(item: unknown, f: Field, at: Path, owner: Path): Uint8Array {
    if (item === undefined) {
      if (f.default !== undefined) return defaultBytes(f.default);
      owner.fail(`Object missing required field \`${f.wire}\``);
    }
    const w = new Writer();
    this.value(w, item, f.type, at);
    return w.bytes();
  }

  /** The option of a union a value belongs to, judged by its JavaScript kind. */
  private option(value: unknown, options: readonly TypeRef[], path: Path): TypeRef {
    const fits = options.filter((o) => this.fits(value, o));
    // an integral number fits int and float; msgspec would call it an int
    const chosen = fits.find((o) => this.base(o).k === "int") ?? fits[0];
    if (chosen === undefined) path.fail(`Expected one of the union's types, got ${kind(value)}`);
    return chosen;
  }

  private base(t: TypeRef): TypeRef {
    if (t.k === "meta") return this.base(t.of);
    if (t.k === "ref") {
      const d = this.definitions[t.name]!;
      if (d.k === "newtype") return this.base(d.base);
    }
    return t;
  }

  /** Whether a value is of the kind a type takes (not whether it is valid). */
  fits(value: unknown, t: TypeRef): boolean {
    const b = this.base(t);
    switch (b.k) {
      case "none":
        return value === null;
      case "bool":
        return typeof value === "boolean";
      case "int":
        return (typeof value === "number" && Number.isInteger(value)) || typeof value === "bigint";
      case "float":
        return typeof value === "number";
      case "str":
      case "date":
      case "time":
      case "timedelta":
      case "uuid":
      case "decimal":
        return typeof value === "string";
      case "bytes":
        return value instanceof Uint8Array;
      case "datetime":
        return value instanceof Date;
      case "unset":
        return value === undefined;
      case "list":
      case "tuple":
        return Array.isArray(value);
      case "set":
        return value instanceof Set;
      case "dict":
        return value instanceof Map;
      case "literal":
        return b.values.includes(value as never);
      case "union":
        return b.options.some((o) => this.fits(value, o));
      case "meta":
      case "ref": {
        if (b.k === "meta") return this.fits(value, b.of);
        const d = this.definitions[b.name]!;
        if (d.k === "enum") {
          return d.flag ? typeof value === "number" : d.values.includes(value as never);
        }
        if (d.k === "namedtuple") return Array.isArray(value);
        if (d.k === "struct" && d.tagField !== undefined) {
          return isObject(value) && (value as Obj)[d.tagField] === d.tag;
        }
        return isObject(value);
      }
    }
    return false;
  }
}

/** Whether msgspec's omit_defaults leaves a field out (see ``omitAbsent``/``omitEqual``). */
function omitted(item: unknown, encoded: Uint8Array, f: Field): boolean {
  if (f.default === undefined) return false;
  if (item === undefined) return f.omitAbsent === true;
  return f.omitEqual === true && sameBytes(encoded, defaultBytes(f.default));
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

function isObject(value: unknown): boolean {
  return (
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    !(value instanceof Map) &&
    !(value instanceof Set) &&
    !(value instanceof Date) &&
    !(value instanceof Uint8Array)
  );
}

function object(value: unknown, path: Path): Obj {
  if (!isObject(value)) path.fail(expected("object", value));
  return value as Obj;
}

/** msgspec's name for the kind of a JavaScript value. */
function kind(value: unknown): string {
  if (value === null) return "`None`";
  if (Array.isArray(value)) return "`array`";
  if (value instanceof Map || isObject(value)) return "`object`";
  if (typeof value === "number") return Number.isInteger(value) ? "`int`" : "`float`";
  if (typeof value === "bigint") return "`int`";
  if (typeof value === "string") return "`str`";
  if (typeof value === "boolean") return "`bool`";
  if (value instanceof Uint8Array) return "`bytes`";
  if (value instanceof Date) return "`datetime`";
  return `\`${typeof value}\``;
}

function expected(what: string, value: unknown): string {
  return `Expected \`${what}\`, got ${kind(value)}`;
}

const INT_BOUNDS = "a number beyond 2**53 loses digits: pass a bigint";

function integer(value: unknown, path: Path): number | bigint {
  if (typeof value === "bigint") return value;
  if (typeof value !== "number" || !Number.isInteger(value)) path.fail(expected("int", value));
  if (!Number.isSafeInteger(value)) path.fail(`Expected \`int\` (${INT_BOUNDS})`);
  return value;
}
