// msgpack read back into the typed values the generated types describe (results, outcomes).
// The worker encoded the value with the contract's types, so the shape is trusted; a node of
// the wrong kind is reported as a mismatch between the two sides' contracts.

import { fromHex } from "./encode.js";
import { Ext, Float, Reader, TIMESTAMP, timestampMillis, type Node } from "./msgpack.js";
import type { Definitions, Field, TypeRef } from "./schema.js";

/** A value that does not have the shape the contract gives it. */
export class ShapeError extends Error {}

/** Turns decoded msgpack into the typed value of a type. */
export class Decoder {
  /** ``fillDefaults``: give a field the sender left out its default (as Python does), or leave
   * it out (to send the value on unchanged: msgspec's omit_defaults tells the two apart). */
  constructor(
    private readonly definitions: Definitions,
    private readonly fillDefaults = true,
  ) {}

  /** The value msgpack bytes hold, as type ``t``. */
  decode(data: Uint8Array, t: TypeRef): unknown {
    return this.value(Reader.decode(data), t, "$");
  }

  value(node: Node, t: TypeRef, path: string): unknown {
    switch (t.k) {
      case "none":
      case "bool":
      case "str":
      case "date":
      case "time":
      case "timedelta":
      case "uuid":
      case "decimal":
      case "unset":
        return node instanceof Float ? node.value : node;
      case "int":
        return node instanceof Float ? node.value : node;
      case "float":
        return node instanceof Float ? node.value : typeof node === "bigint" ? Number(node) : node;
      case "bytes":
        return node;
      case "datetime":
        if (node instanceof Ext && node.type === TIMESTAMP) return new Date(timestampMillis(node.data));
        if (typeof node === "string") return new Date(node);
        throw new ShapeError(`${path}: expected a datetime`);
      case "list":
        return this.items(node, path).map((item, i) => this.value(item, t.of, `${path}[${i}]`));
      case "set":
        return new Set(this.items(node, path).map((item, i) => this.value(item, t.of, `${path}[${i}]`)));
      case "tuple":
        return this.items(node, path).map((item, i) => this.value(item, t.items[i]!, `${path}[${i}]`));
      case "dict": {
        const map = new Map<unknown, unknown>();
        for (const [key, item] of this.entries(node, path)) {
          map.set(this.value(key, t.key, path), this.value(item, t.value, `${path}[...]`));
        }
        return map;
      }
      case "union":
        return this.value(node, this.option(node, t.options, path), path);
      case "literal":
        return node;
      case "meta":
        return this.value(node, t.of, path);
      case "ref":
        return this.named(node, t.name, path);
    }
  }

  private items(node: Node, path: string): Node[] {
    if (!Array.isArray(node)) throw new ShapeError(`${path}: expected an array`);
    return node;
  }

  private entries(node: Node, path: string): Map<Node, Node> {
    if (!(node instanceof Map)) throw new ShapeError(`${path}: expected a map`);
    return node;
  }

  private named(node: Node, name: string, path: string): unknown {
    const d = this.definitions[name]!;
    switch (d.k) {
      case "newtype":
        return this.value(node, d.base, path);
      case "enum":
        return node;
      case "namedtuple": {
        const items = this.items(node, path);
        return d.fields.map((f, i) => this.field(items[i], f, `${path}[${i}]`));
      }
      case "typeddict": {
        const out: Record<string, unknown> = {};
        for (const [key, item] of this.entries(node, path)) {
          const f = d.fields.find((field) => field.wire === key);
          if (f !== undefined) out[f.name] = this.value(item, f.type, `${path}.${f.wire}`);
        }
        return out;
      }
      case "struct": {
        const out: Record<string, unknown> = {};
        if (d.tagField !== undefined) out[d.tagField] = d.tag;
        if (d.arrayLike) {
          const items = this.items(node, path);
          const first = d.tagField !== undefined ? 1 : 0;
          d.fields.forEach((f, i) => {
            const value = this.field(items[first + i], f, `${path}[${first + i}]`);
            if (value !== undefined) out[f.name] = value;
          });
        } else {
          const map = this.entries(node, path);
          for (const f of d.fields) {
            if (!f.init) continue; // not part of the TypeScript type: always its default
            const value = this.field(map.get(f.wire), f, `${path}.${f.wire}`);
            if (value !== undefined) out[f.name] = value;
          }
        }
        return out;
      }
    }
  }

  private field(node: Node | undefined, f: Field, path: string): unknown {
    if (node !== undefined) return this.value(node, f.type, path);
    if (f.default !== undefined && this.fillDefaults) return this.decode(fromHex(f.default), f.type);
    return undefined;
  }

  private option(node: Node, options: readonly TypeRef[], path: string): TypeRef {
    const chosen = options.find((o) => this.fits(node, o));
    if (chosen === undefined) throw new ShapeError(`${path}: no option of the union fits`);
    return chosen;
  }

  private fits(node: Node, t: TypeRef): boolean {
    switch (t.k) {
      case "none":
        return node === null;
      case "bool":
        return typeof node === "boolean";
      case "int":
        return typeof node === "number" || typeof node === "bigint";
      case "float":
        return node instanceof Float || typeof node === "number";
      case "str":
      case "date":
      case "time":
      case "timedelta":
      case "uuid":
      case "decimal":
        return typeof node === "string";
      case "bytes":
        return node instanceof Uint8Array;
      case "datetime":
        return (node instanceof Ext && node.type === TIMESTAMP) || typeof node === "string";
      case "unset":
        return false;
      case "list":
      case "set":
      case "tuple":
        return Array.isArray(node);
      case "dict":
        return node instanceof Map;
      case "literal":
        return t.values.includes(node as never);
      case "union":
        return t.options.some((o) => this.fits(node, o));
      case "meta":
        return this.fits(node, t.of);
      case "ref": {
        const d = this.definitions[t.name]!;
        if (d.k === "newtype") return this.fits(node, d.base);
        if (d.k === "enum") return d.flag ? typeof node === "number" : d.values.includes(node as never);
        if (d.k === "namedtuple") return Array.isArray(node);
        if (d.k === "struct") {
          if (d.arrayLike) return Array.isArray(node) && (d.tagField === undefined || node[0] === d.tag);
          if (!(node instanceof Map)) return false;
          return d.tagField === undefined || node.get(d.tagField) === d.tag;
        }
        return node instanceof Map;
      }
    }
  }
}
