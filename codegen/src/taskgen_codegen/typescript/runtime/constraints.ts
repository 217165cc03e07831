// The checks msgspec makes beyond a value's type: msgspec.Meta constraints, and the text forms
// of the types JavaScript has no class for. Messages are msgspec's own, word for word.

import type { Definitions, Meta, TypeRef } from "./schema.js";

/** Where a value is; ``fail`` throws the ValidationError for a problem there. */
export interface Place {
  fail(problem: string): never;
}

/** The text forms msgspec writes for the types JavaScript has no class for. */
const TEXT: Record<string, RegExp> = {
  date: /^\d{4}-\d{2}-\d{2}$/,
  time: /^\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})?$/,
  timedelta: /^[+-]?P(\d+D)?(T(\d+H)?(\d+M)?(\d+(\.\d{1,6})?S)?)?$/,
  uuid: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
  decimal: /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$|^[+-]?(Infinity|NaN|sNaN)$/,
};

/** A date, time, duration, UUID or decimal's text, checked for its form. */
export function textOf(type: string, value: string, path: Place): string {
  if (!TEXT[type]!.test(value)) path.fail(`Invalid ${type}: ${JSON.stringify(value)}`);
  return value;
}

const PATTERNS = new Map<string, RegExp>();

function regex(pattern: string): RegExp {
  let compiled = PATTERNS.get(pattern);
  if (compiled === undefined) PATTERNS.set(pattern, (compiled = new RegExp(pattern, "u")));
  return compiled;
}

/** The msgspec.Meta constraints of one value, with msgspec's messages. */
export function check(
  value: unknown,
  t: TypeRef,
  meta: Meta,
  path: Place,
  definitions: Definitions,
): void {
  const name = msgspecName(t, definitions);
  if (typeof value === "number" || typeof value === "bigint") {
    const n = value;
    const show = (bound: number) => (name === "float" && Number.isInteger(bound) ? bound.toFixed(1) : String(bound));
    if (meta.ge !== undefined && n < meta.ge) path.fail(`Expected \`${name}\` >= ${show(meta.ge)}`);
    if (meta.gt !== undefined && n <= meta.gt) path.fail(`Expected \`${name}\` > ${show(meta.gt)}`);
    if (meta.le !== undefined && n > meta.le) path.fail(`Expected \`${name}\` <= ${show(meta.le)}`);
    if (meta.lt !== undefined && n >= meta.lt) path.fail(`Expected \`${name}\` < ${show(meta.lt)}`);
    if (meta.multiple_of !== undefined) {
      const off =
        typeof n === "bigint"
          ? n % BigInt(meta.multiple_of) !== 0n
          : n % meta.multiple_of !== 0;
      if (off) path.fail(`Expected \`${name}\` that's a multiple of ${meta.multiple_of}`);
    }
  }
  let size: number | undefined;
  if (typeof value === "string") size = [...value].length;
  else if (Array.isArray(value) || value instanceof Uint8Array) size = value.length;
  else if (value instanceof Map || value instanceof Set) size = value.size;
  if (size !== undefined) {
    if (meta.min_length !== undefined && size < meta.min_length) {
      path.fail(`Expected \`${name}\` of length >= ${meta.min_length}`);
    }
    if (meta.max_length !== undefined && size > meta.max_length) {
      path.fail(`Expected \`${name}\` of length <= ${meta.max_length}`);
    }
  }
  // msgspec checks the length first, then the pattern
  if (typeof value === "string" && meta.pattern !== undefined) {
    if (!regex(meta.js_pattern ?? meta.pattern).test(value)) {
      path.fail(`Expected \`str\` matching regex ${pyRepr(meta.pattern)}`);
    }
  }
  if (meta.tz === false && value instanceof Date) {
    path.fail("Expected `datetime` with no timezone component (a Date always has one)");
  }
}

function msgspecName(t: TypeRef, definitions: Definitions): string {
  switch (t.k) {
    case "list":
    case "set":
    case "tuple":
      return "array";
    case "dict":
      return "object";
    case "meta":
      return msgspecName(t.of, definitions);
    case "ref": {
      const d = definitions[t.name]!;
      return d.k === "newtype" ? msgspecName(d.base, definitions) : "object";
    }
    default:
      return t.k;
  }
}

/** A string as Python's repr spells it (msgspec quotes patterns that way). */
function pyRepr(text: string): string {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  const body = text.replace(/\\/g, "\\\\");
  return quote + (quote === "'" ? body.replace(/'/g, "\\'") : body) + quote;
}
