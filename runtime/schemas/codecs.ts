/**
 * Decoders built from a schema's text, once per schema: Avro with avsc, Protobuf with protobufjs, JSON Schema
 * with Ajv. Each library is loaded the first time a schema of its format is seen (the dispatcher bundle ships
 * them as separate files), so a dispatcher that never meets Protobuf never loads protobufjs.
 */
import type * as Avsc from 'avsc';
import type * as Protobuf from 'protobufjs';
import type AjvClass from 'ajv';
import { BUILTIN_ALIASES, BUILTIN_DESCRIPTORS, BUILTIN_PROTO_TEXTS } from './builtin-protos';
import { FramingError, readConfluentMessageIndexes, readVarint } from './wire';

export const DATA_FORMATS = ['AVRO', 'PROTOBUF', 'JSON'] as const;
export type DataFormat = (typeof DATA_FORMATS)[number];

/** A schema as a registry serves it, with the schemas it references (Confluent references, by name). */
export interface SchemaText {
  readonly format: DataFormat;
  readonly schema: string;
  readonly references?: readonly { readonly name: string; readonly schema: SchemaText }[];
}

/** How a Protobuf payload names its message type: Confluent's index path, Glue's index into the sorted message names. */
export type MessageIndexing = 'confluent' | 'glue';

export interface Codec {
  readonly format: DataFormat;
  /** The record or message type's full name (Avro, Protobuf), or the JSON schema's title. */
  readonly name?: string;
  /** The data as JSON-ready values; throws when the bytes do not match the schema. */
  decode(data: Buffer): { value: unknown; name?: string };
}

let avsc: typeof Avsc | undefined;
let protobuf: typeof Protobuf | undefined;
let ajv: AjvClass | undefined;
const avscLib = (): typeof Avsc => (avsc ??= require('avsc'));
const protobufLib = (): typeof Protobuf => (protobuf ??= require('protobufjs'));
let descriptor: any;
/** protobufjs' descriptor extension, for schemas a registry serves as a serialized FileDescriptorProto. */
const descriptorLib = (): any => (descriptor ??= require('protobufjs/ext/descriptor'));
function ajvInstance(): AjvClass {
  if (ajv === undefined) {
    const Ajv = require('ajv').default as typeof AjvClass;
    // Formats are not checked (as Confluent's and Glue's JSON deserializers by default); unknown keywords are allowed.
    ajv = new Ajv({ strict: false, validateFormats: false, allErrors: false });
  }
  return ajv;
}

/** Builds the codec of a schema; throws (with the library's reason) when the schema does not parse. */
export function compileCodec(text: SchemaText, indexing: MessageIndexing): Codec {
  switch (text.format) {
    case 'AVRO':
      return avroCodec(text);
    case 'PROTOBUF':
      return protobufCodec(text, indexing);
    case 'JSON':
      return jsonCodec(text);
  }
}

function avroCodec(text: SchemaText): Codec {
  const { Type } = avscLib();
  // Referenced schemas define the named types the schema uses.
  const compile = (registry: Record<string, Avsc.Type>): Avsc.Type => {
    const define = (t: SchemaText) => {
      for (const r of t.references ?? []) define(r.schema);
      if (t !== text) Type.forSchema(JSON.parse(t.schema), { registry });
    };
    define(text);
    return Type.forSchema(JSON.parse(text.schema), { registry });
  };
  const type = compile({});
  // avsc reads longs as numbers and refuses those beyond 2^53; a record holding one is decoded again with longs
  // beyond that range as exact decimal text (the others stay numbers).
  let wide: Avsc.Type | undefined;
  const name = type.name;
  const hasBytes = /"(bytes|fixed)"/.test(text.schema) || (text.references?.length ?? 0) > 0;
  return {
    format: 'AVRO',
    name,
    decode: (data) => {
      let value: unknown;
      try {
        value = type.fromBuffer(data);
      } catch (e) {
        if (!/precision loss/.test((e as Error).message)) throw e;
        value = (wide ??= compile({ long: wideLongType() })).fromBuffer(data);
      }
      return { value: hasBytes ? bytesAsBase64(value) : value, name };
    },
  };
}

/** An Avro long as a number when it is a safe integer, otherwise as its exact decimal text. */
function wideLongType(): Avsc.Type {
  const max = BigInt(Number.MAX_SAFE_INTEGER);
  return avscLib().types.LongType.__with({
    fromBuffer: (b: Buffer) => {
      const n = b.readBigInt64LE();
      return n <= max && n >= -max ? Number(n) : n.toString();
    },
    toBuffer: (n: number | string) => {
      const b = Buffer.alloc(8);
      b.writeBigInt64LE(BigInt(n));
      return b;
    },
    fromJSON: (v: unknown) => v,
    toJSON: (v: unknown) => v,
    isValid: (v: unknown) => typeof v === 'number' || typeof v === 'string',
    compare: (a: number | string, b: number | string) => {
      const x = BigInt(a);
      const y = BigInt(b);
      return x === y ? 0 : x < y ? -1 : 1;
    },
  });
}

/** Avro bytes and fixed values become base64 text, as in JSON converters. */
function bytesAsBase64(v: unknown): unknown {
  if (Buffer.isBuffer(v)) return v.toString('base64');
  if (Array.isArray(v)) return v.map(bytesAsBase64);
  if (typeof v === 'object' && v !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = bytesAsBase64(x);
    return out;
  }
  return v;
}

function protobufCodec(text: SchemaText, indexing: MessageIndexing): Codec {
  const pb = protobufLib();
  const root = new pb.Root();
  for (const file of protoFiles(text)) addMissing(root, file.toJSON().nested ?? {});
  root.resolveAll();
  // The file's own messages: those its text declares (not those of referenced files).
  const own = protoFile(text.schema).root;
  const topLevel = messagesOf(own).map((t) => root.lookupType(t.fullName));
  let sorted: Protobuf.Type[] | undefined;
  const typeFor = (data: Buffer): [Protobuf.Type, Buffer] => {
    if (indexing === 'confluent') {
      // A single 0 byte, the first message: what almost every record carries.
      if (data[0] === 0 && topLevel[0] !== undefined) return [topLevel[0], data.subarray(1)];
      const { indexes, rest } = readConfluentMessageIndexes(data);
      let type = topLevel[indexes[0]];
      for (const i of indexes.slice(1)) type = type === undefined ? undefined! : nestedTypes(type)[i];
      if (type === undefined) throw new FramingError(`no message at index path [${indexes.join(', ')}] of the schema`);
      return [type, rest];
    }
    // Glue: one unsigned varint, the index among all the file's message types sorted by full name.
    sorted ??= allTypes(topLevel).sort((a, b) => (a.fullName < b.fullName ? -1 : a.fullName > b.fullName ? 1 : 0));
    const [index, pos] = readVarint(data, 0, false);
    const type = sorted[index];
    if (type === undefined) throw new FramingError(`no message at index ${index} of the schema's ${sorted.length}`);
    return [type, data.subarray(pos)];
  };
  const options = { longs: String, enums: String, bytes: String, defaults: true, json: true };
  const toJson = wellKnownJson(topLevel);
  // protobufjs builds fullName from the type's parents on every read.
  const names = new Map<Protobuf.Type, string>();
  const nameOf = (type: Protobuf.Type): string => {
    let name = names.get(type);
    if (name === undefined) names.set(type, (name = type.fullName.slice(1)));
    return name;
  };
  return {
    format: 'PROTOBUF',
    name: topLevel[0] === undefined ? undefined : nameOf(topLevel[0]),
    decode: (data) => {
      const [type, rest] = typeFor(data);
      const value = type.toObject(type.decode(rest), options);
      return { value: toJson === undefined ? value : toJson(type, value), name: nameOf(type) };
    },
  };
}

/**
 * The .proto files a schema needs, as protobufjs roots: its own, its references (each file once, by name), and the
 * built-in files that it or they import and no reference supplies (what Confluent's and Glue's SerDes resolve
 * without the registry: google/protobuf, google/type, confluent and Glue's own; builtin-protos.ts).
 */
function protoFiles(text: SchemaText): Protobuf.Root[] {
  const files: Protobuf.Root[] = [];
  const supplied = new Set<string>();
  const imports: string[] = [];
  const add = (t: SchemaText) => {
    for (const r of t.references ?? []) {
      if (supplied.has(r.name)) continue;
      supplied.add(r.name);
      add(r.schema);
    }
    const file = protoFile(t.schema);
    files.push(file.root);
    imports.push(...file.imports);
  };
  add(text);
  for (let i = 0; i < imports.length; i++) {
    const name = BUILTIN_ALIASES.get(imports[i]) ?? imports[i];
    if (supplied.has(name)) continue;
    supplied.add(name);
    const builtin = builtinProto(name);
    // Unknown: resolveAll names the type it misses.
    if (builtin === undefined) continue;
    files.push(builtin.root);
    imports.push(...builtin.imports);
  }
  return files;
}

/** A root of JSON definitions, unresolved (protobufjs' Root.fromJSON resolves them, and their imports may not be there yet). */
function rootOf(nested: Record<string, any>): Protobuf.Root {
  return new (protobufLib().Root)().addJSON(nested) as Protobuf.Root;
}

/** A built-in .proto file by the name a schema imports it by, with its own imports; undefined when there is none. */
function builtinProto(name: string): { root: Protobuf.Root; imports: string[] } | undefined {
  const pb = protobufLib();
  if (name === 'google/protobuf/descriptor.proto') {
    // The descriptor extension's google.protobuf namespace (descriptor.proto, and nothing it imports).
    return { root: rootOf({ google: { nested: { protobuf: descriptorLib().toJSON() } } }), imports: [] };
  }
  const common = pb.common.get(name) as Protobuf.INamespace | null;
  if (common !== null) return { root: rootOf(common.nested ?? {}), imports: [] };
  const schema = BUILTIN_DESCRIPTORS.get(name) ?? BUILTIN_PROTO_TEXTS.get(name);
  return schema === undefined ? undefined : protoFile(schema);
}

/**
 * Adds definitions to a namespace, those it has already left out: files may share a package, and protobufjs' files of
 * well-known types carry copies of the types they import.
 */
function addMissing(ns: Protobuf.Namespace, nested: Record<string, any>): void {
  const pb = protobufLib();
  for (const [name, json] of Object.entries(nested)) {
    const existing = ns.get(name);
    const definition =
      json.fields !== undefined || json.values !== undefined || json.methods !== undefined || json.id !== undefined;
    if (!definition && existing instanceof pb.Namespace && !(existing instanceof pb.Type) && !(existing instanceof pb.Service)) {
      addMissing(existing, json.nested ?? {});
    } else if (existing === null) {
      ns.addJSON({ [name]: json });
    }
  }
}

/**
 * proto3 JSON for the well-known types whose JSON is not their fields (protobuf.dev's JSON mapping): Timestamp as
 * RFC 3339 text, Duration as seconds ("1.5s"), the wrappers as their value, Struct, Value and ListValue as the JSON
 * they hold, FieldMask as its paths joined by commas. Returns undefined when no message of the file holds one, so
 * those decode as before; otherwise a converter of toObject's value of a type.
 */
function wellKnownJson(topLevel: Protobuf.Type[]): ((type: Protobuf.Type, value: any) => unknown) | undefined {
  const pb = protobufLib();
  // Every message type reachable from the file's messages.
  const reachable = new Set<Protobuf.Type>();
  const visit = (t: Protobuf.Type) => {
    if (reachable.has(t)) return;
    reachable.add(t);
    for (const n of nestedTypes(t)) visit(n);
    for (const f of t.fieldsArray) if (f.resolve().resolvedType instanceof pb.Type) visit(f.resolvedType as Protobuf.Type);
  };
  topLevel.forEach(visit);
  // The types whose value holds a well-known type somewhere: the well-known ones, then those with a field of one of them.
  const converts = new Set([...reachable].filter((t) => WELL_KNOWN_JSON[t.fullName] !== undefined));
  if (converts.size === 0) return undefined;
  for (let grew = true; grew;) {
    grew = false;
    for (const t of reachable) {
      if (!converts.has(t) && t.fieldsArray.some((f) => converts.has(f.resolvedType as Protobuf.Type))) {
        converts.add(t);
        grew = true;
      }
    }
  }
  const fieldsOf = new Map(
    [...converts].map((t) => [t, t.fieldsArray.filter((f) => converts.has(f.resolvedType as Protobuf.Type))]),
  );
  const convert = (type: Protobuf.Type, value: any): unknown => {
    if (value === null || value === undefined) return value;
    const wellKnown = WELL_KNOWN_JSON[type.fullName];
    if (wellKnown !== undefined) return wellKnown(value);
    for (const f of fieldsOf.get(type) ?? []) {
      const v = value[f.name];
      if (v === null || v === undefined) continue;
      const t = f.resolvedType as Protobuf.Type;
      if (f.map) for (const k of Object.keys(v)) v[k] = convert(t, v[k]);
      else value[f.name] = f.repeated ? v.map((x: unknown) => convert(t, x)) : convert(t, v);
    }
    return value;
  };
  return (type, value) => (converts.has(type) ? convert(type, value) : value);
}

/** Fractional seconds as proto3 JSON writes them: none, or 3, 6 or 9 digits. */
function fraction(nanos: number): string {
  if (nanos === 0) return '';
  const digits = String(nanos).padStart(9, '0');
  return `.${nanos % 1_000_000 === 0 ? digits.slice(0, 3) : nanos % 1_000 === 0 ? digits.slice(0, 6) : digits}`;
}

/** Timestamps from 0001-01-01 to 9999-12-31 (proto3 JSON's range); outside it (not a valid Timestamp) the fields stay. */
function timestampJson(v: { seconds: string; nanos: number }): unknown {
  const seconds = Number(v.seconds);
  if (!(seconds >= -62_135_596_800 && seconds <= 253_402_300_799) || !(v.nanos >= 0 && v.nanos <= 999_999_999)) return v;
  return `${new Date(seconds * 1000).toISOString().slice(0, 19)}${fraction(v.nanos)}Z`;
}

function durationJson(v: { seconds: string; nanos: number }): unknown {
  const negative = v.seconds.startsWith('-') || v.nanos < 0;
  return `${negative ? '-' : ''}${v.seconds.replace(/^-/, '')}${fraction(Math.abs(v.nanos))}s`;
}

/** google.protobuf.Value as toObject gives it (its one set member) to the JSON value it holds. */
function valueJson(v: any): unknown {
  if (v.structValue !== undefined) return structJson(v.structValue);
  if (v.listValue !== undefined) return (v.listValue.values ?? []).map(valueJson);
  return v.numberValue ?? v.stringValue ?? v.boolValue ?? null;
}

function structJson(v: any): unknown {
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v.fields ?? {})) out[k] = valueJson(x);
  return out;
}

const wrapped = (v: { value: unknown }) => v.value;
const WELL_KNOWN_JSON: Record<string, ((v: any) => unknown) | undefined> = {
  '.google.protobuf.Timestamp': timestampJson,
  '.google.protobuf.Duration': durationJson,
  '.google.protobuf.Struct': structJson,
  '.google.protobuf.Value': valueJson,
  '.google.protobuf.ListValue': (v) => (v.values ?? []).map(valueJson),
  '.google.protobuf.FieldMask': (v) => (v.paths ?? []).map((p: string) => protobufLib().util.camelCase(p)).join(','),
  '.google.protobuf.DoubleValue': wrapped,
  '.google.protobuf.FloatValue': wrapped,
  '.google.protobuf.Int64Value': wrapped,
  '.google.protobuf.UInt64Value': wrapped,
  '.google.protobuf.Int32Value': wrapped,
  '.google.protobuf.UInt32Value': wrapped,
  '.google.protobuf.BoolValue': wrapped,
  '.google.protobuf.StringValue': wrapped,
  '.google.protobuf.BytesValue': wrapped,
};

/** A base64 FileDescriptorProto, as Confluent's serializers register Protobuf schemas (and some registries serve them). */
const SERIALIZED_DESCRIPTOR = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * One .proto file as a protobufjs root, with the files it imports: its text, or its serialized descriptor (with field
 * names in lowerCamelCase, as the text parser gives them, so the JSON is the same either way).
 */
function protoFile(schema: string): { root: Protobuf.Root; imports: string[] } {
  const pb = protobufLib();
  if (!SERIALIZED_DESCRIPTOR.test(schema.trim())) {
    const parsed = pb.parse(schema, { keepCase: false });
    return { root: parsed.root, imports: [...(parsed.imports ?? []), ...(parsed.weakImports ?? [])] };
  }
  // The extension exports descriptor.proto's namespace and adds Root.fromDescriptor to the protobufjs it loads (its own
  // copy in the bundle): that root's class is the one to call.
  const desc = descriptorLib();
  const file = desc.FileDescriptorProto.decode(Buffer.from(schema, 'base64'));
  withoutCustomOptions(file);
  const json = unresolved(desc.root.constructor, () => desc.root.constructor.fromDescriptor({ file: [file] }).toJSON());
  return { root: rootOf(camelCaseFields(json).nested ?? {}), imports: [...(file.dependency ?? [])] };
}

/**
 * Runs fn with protobufjs' Root.resolveAll doing nothing: fromDescriptor resolves the file's types as it reads it, and
 * those of the files it imports are added later (the whole schema is resolved once all its files are in one root).
 */
function unresolved<T>(Root: { prototype: { resolveAll(): unknown } }, fn: () => T): T {
  const resolveAll = Root.prototype.resolveAll;
  Root.prototype.resolveAll = function (this: unknown) {
    return this;
  };
  try {
    return fn();
  } finally {
    Root.prototype.resolveAll = resolveAll;
  }
}

/**
 * Leaves out the extensions of descriptor.proto's options (custom options, as confluent/meta.proto declares): they say
 * nothing of the data, and protobufjs resolves a descriptor's extensions as it reads it, when the options' file is not
 * there yet.
 */
function withoutCustomOptions(message: { extension?: { extendee?: string }[]; messageType?: any[]; nestedType?: any[] }): void {
  if (message.extension)
    message.extension = message.extension.filter((e) => !/^\.?google\.protobuf\.[A-Za-z]+Options$/.test(e.extendee ?? ''));
  for (const m of message.messageType ?? message.nestedType ?? []) withoutCustomOptions(m);
}

/** Walks namespaces and types only (through `nested`): a type's fields may themselves be named "fields" or "oneofs". */
function camelCaseFields(json: any): any {
  if (json === null || typeof json !== 'object') return json;
  const out = { ...json };
  if (json.nested) out.nested = Object.fromEntries(Object.entries(json.nested).map(([name, n]) => [name, camelCaseFields(n)]));
  if (json.fields) {
    out.fields = Object.fromEntries(Object.entries(json.fields).map(([name, f]) => [protobufLib().util.camelCase(name), f]));
    // Oneofs name their fields too.
    if (json.oneofs)
      out.oneofs = Object.fromEntries(
        Object.entries<any>(json.oneofs).map(([name, o]) => [
          name,
          { ...o, oneof: o.oneof.map((n: string) => protobufLib().util.camelCase(n)) },
        ]),
      );
  }
  return out;
}

/** Message types declared directly in a namespace (packages are walked through). */
function messagesOf(ns: Protobuf.NamespaceBase): Protobuf.Type[] {
  const out: Protobuf.Type[] = [];
  for (const o of ns.nestedArray) {
    if (o instanceof protobufLib().Type) out.push(o);
    else if (o instanceof protobufLib().Namespace && !(o instanceof protobufLib().Service)) out.push(...messagesOf(o));
  }
  return out;
}

function nestedTypes(t: Protobuf.Type): Protobuf.Type[] {
  return t.nestedArray.filter((o): o is Protobuf.Type => o instanceof protobufLib().Type);
}

function allTypes(types: Protobuf.Type[]): Protobuf.Type[] {
  return types.flatMap((t) => [t, ...allTypes(nestedTypes(t))]);
}

function jsonCodec(text: SchemaText): Codec {
  const schema = JSON.parse(text.schema) as Record<string, unknown>;
  const a = ajvInstance();
  for (const r of text.references ?? []) {
    if (a.getSchema(r.name) === undefined) a.addSchema(JSON.parse(r.schema.schema), r.name);
  }
  // Draft-07 and earlier; a schema's $id is dropped so that two versions with one $id both compile.
  const { $schema: _, $id: __, ...body } = schema;
  const validate = a.compile(body);
  const name = typeof schema.title === 'string' ? schema.title : undefined;
  return {
    format: 'JSON',
    name,
    decode: (data) => {
      const value = parseJson(data);
      if (!validate(value)) throw new Error(`does not match the JSON schema: ${schemaFailure(validate.errors?.[0])}`);
      return { value, name };
    },
  };
}

/**
 * Where the schema refused the value: the schema path and keyword, and what the keyword asks (Ajv's message, made from
 * the schema alone). Never the instance path: it holds the value's own keys (an e-mail address as a key, say), and
 * error messages reach logs and the error topic.
 */
function schemaFailure(e: { schemaPath: string; keyword: string; message?: string } | undefined): string {
  return e === undefined ? 'the value is not valid' : `${e.schemaPath} (${e.keyword}): ${e.message ?? 'not valid'}`;
}

/** JSON text to a value; the error never quotes the text (JSON.parse's own message does). */
export function parseJson(data: Buffer): unknown {
  try {
    return JSON.parse(data.toString('utf8'));
  } catch {
    throw new Error(`${data.length} bytes that are not JSON text`);
  }
}
