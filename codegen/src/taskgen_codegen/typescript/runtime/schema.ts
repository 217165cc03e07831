// The wire description of a contract's types, which the generated package fills in: the
// encoder and the decoder walk it, so the generated code holds data, not logic.

/** A literal's value. */
export type LiteralValue = string | number | boolean | null;

/** msgspec.Meta constraints, by the names msgspec gives them. */
export interface Meta {
  readonly gt?: number;
  readonly ge?: number;
  readonly lt?: number;
  readonly le?: number;
  readonly multiple_of?: number;
  /** The Python pattern (msgspec's messages quote it). */
  readonly pattern?: string;
  /** The same pattern for JavaScript's RegExp with the ``u`` flag (see regex.py). */
  readonly js_pattern?: string;
  readonly min_length?: number;
  readonly max_length?: number;
  readonly tz?: boolean;
}

/** One type, as the contract spells it. */
export type TypeRef =
  | { readonly k: "none" | "bool" | "int" | "float" | "str" | "bytes" | "unset" }
  | { readonly k: "datetime" | "date" | "time" | "timedelta" | "uuid" | "decimal" }
  | { readonly k: "list" | "set"; readonly of: TypeRef }
  | { readonly k: "tuple"; readonly items: readonly TypeRef[] }
  | { readonly k: "dict"; readonly key: TypeRef; readonly value: TypeRef }
  | { readonly k: "union"; readonly options: readonly TypeRef[] }
  | { readonly k: "literal"; readonly values: readonly LiteralValue[] }
  | { readonly k: "ref"; readonly name: string }
  | { readonly k: "meta"; readonly of: TypeRef; readonly meta: Meta };

/** One field of a Struct, dataclass, TypedDict or NamedTuple. */
export interface Field {
  readonly name: string;
  /** Its name on the wire (a Struct may rename it). */
  readonly wire: string;
  readonly type: TypeRef;
  /** The msgpack bytes of its default, hex; absent when it has none (or it is UNSET). */
  readonly default?: string;
  readonly required: boolean;
  /** False for a dataclass field left out of ``__init__``: never on the wire. */
  readonly init: boolean;
  /** In an ``omit_defaults`` Struct: left out when the caller leaves it out. */
  readonly omitAbsent?: boolean;
  /** In an ``omit_defaults`` Struct: left out when given a value equal to its default. */
  readonly omitEqual?: boolean;
}

/** A named definition of the contract. */
export type Definition =
  | {
      readonly k: "struct";
      readonly fields: readonly Field[];
      readonly arrayLike: boolean;
      readonly omitDefaults: boolean;
      readonly tag?: string | number;
      readonly tagField?: string;
    }
  | { readonly k: "typeddict" | "namedtuple"; readonly fields: readonly Field[] }
  | { readonly k: "enum"; readonly values: readonly (string | number)[]; readonly flag: boolean }
  | { readonly k: "newtype"; readonly base: TypeRef };

/** Every definition of a contract, by name. */
export type Definitions = Readonly<Record<string, Definition>>;

/** One parameter of a task. */
export interface Param {
  readonly name: string;
  readonly type: TypeRef;
  readonly default?: string;
}

/** One task as the client sends it. */
export interface TaskDef {
  readonly name: string;
  readonly queue: string;
  readonly fingerprint: string;
  readonly priority: number;
  /** Seconds an outcome is kept after the task ends. */
  readonly resultTtl: number;
  readonly params: readonly Param[];
  readonly result: TypeRef;
  readonly definitions: Definitions;
}

/** A Python int: a number while it is exact (within 2**53), else a bigint. */
export type Int = number | bigint;
