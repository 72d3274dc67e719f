/**
 * Decoders built from a schema's text, once per schema: Avro with avsc, Protobuf with protobufjs, JSON Schema
 * with Ajv. Each library is loaded the first time a schema of its format is seen (the dispatcher bundle ships
 * them as separate files), so a dispatcher that never meets Protobuf never loads protobufjs.
 */
import type * as Avsc from 'avsc';
import type * as Protobuf from 'protobufjs';
import type AjvClass from 'ajv';
import { FramingError, readConfluentMessageIndexes, readVarint } from './wire';

export const DATA_FORMATS = ['AVRO', 'PROTOBUF', 'JSON'] as const;
export type DataFormat = typeof DATA_FORMATS[number];

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

/* eslint-disable @typescript-eslint/no-require-imports */
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
/* eslint-enable @typescript-eslint/no-require-imports */

/** Builds the codec of a schema; throws (with the library's reason) when the schema does not parse. */
export function compileCodec(text: SchemaText, indexing: MessageIndexing): Codec {
  switch (text.format) {
    case 'AVRO': return avroCodec(text);
    case 'PROTOBUF': return protobufCodec(text, indexing);
    case 'JSON': return jsonCodec(text);
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
  const load = (t: SchemaText) => {
    for (const r of t.references ?? []) load(r.schema);
    root.addJSON(protoFile(t.schema).toJSON().nested ?? {});
  };
  load(text);
  root.resolveAll();
  // The file's own messages: those its text declares (not those of referenced files).
  const own = protoFile(text.schema);
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
  // protobufjs builds fullName from the type's parents on every read.
  const names = new Map<Protobuf.Type, string>();
  const nameOf = (type: Protobuf.Type): string => {
    let name = names.get(type);
    if (name === undefined) names.set(type, name = type.fullName.slice(1));
    return name;
  };
  return {
    format: 'PROTOBUF',
    name: topLevel[0] === undefined ? undefined : nameOf(topLevel[0]),
    decode: (data) => {
      const [type, rest] = typeFor(data);
      return { value: type.toObject(type.decode(rest), options), name: nameOf(type) };
    },
  };
}

/** A base64 FileDescriptorProto, as Confluent's serializers register Protobuf schemas (and some registries serve them). */
const SERIALIZED_DESCRIPTOR = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * One .proto file as a protobufjs root: its text, or its serialized descriptor (with field names in lowerCamelCase,
 * as the text parser gives them, so the JSON is the same either way).
 */
function protoFile(schema: string): Protobuf.Root {
  const pb = protobufLib();
  if (!SERIALIZED_DESCRIPTOR.test(schema.trim())) return pb.parse(schema, { keepCase: false }).root;
  // The extension exports descriptor.proto's namespace and adds Root.fromDescriptor to the protobufjs it loads (its own
  // copy in the bundle): that root's class is the one to call.
  const desc = descriptorLib();
  const file = desc.FileDescriptorProto.decode(Buffer.from(schema, 'base64'));
  const json = desc.root.constructor.fromDescriptor({ file: [file] }).toJSON();
  return pb.Root.fromJSON(camelCaseFields(json));
}

function camelCaseFields(json: any): any {
  if (json === null || typeof json !== 'object') return json;
  const out: any = Array.isArray(json) ? [] : {};
  for (const [k, v] of Object.entries(json)) out[k] = camelCaseFields(v);
  if (json.fields && typeof json.fields === 'object') {
    out.fields = Object.fromEntries(Object.entries(out.fields).map(([name, f]) => [protobufLib().util.camelCase(name), f]));
    // Oneofs name their fields too.
    for (const o of Object.values<any>(out.oneofs ?? {})) o.oneof = o.oneof.map((n: string) => protobufLib().util.camelCase(n));
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
      if (!validate(value)) {
        const e = validate.errors?.[0];
        // Names the failing place in the schema, never the value.
        throw new Error(`does not match the JSON schema: ${e?.instancePath || '/'} ${e?.message ?? 'is not valid'}`);
      }
      return { value, name };
    },
  };
}

/** JSON text to a value; the error never quotes the text (JSON.parse's own message does). */
export function parseJson(data: Buffer): unknown {
  try {
    return JSON.parse(data.toString('utf8'));
  } catch {
    throw new Error(`${data.length} bytes that are not JSON text`);
  }
}
