/**
 * Codecs by schema id, each fetched from its registry and compiled once (schemas by id never change); a failed fetch
 * is forgotten, so the next call asks again. Shared by the dispatcher's RecordDecoder and the local emulator's
 * schema registry step.
 */
import { Codec, compileCodec } from './codecs';
import { RegistryClient, RegistryError } from './registry';
import { SchemaRef, schemaRefName } from './wire';

/** A schema the registry served that does not compile: the record's fault (like a schema not found), not the registry's. */
export class SchemaCompileError extends RegistryError {
  constructor(public readonly reason: string) {
    super(`the schema does not compile: ${reason}`, true);
    this.name = 'SchemaCompileError';
  }
}

export class SchemaCache {
  private readonly codecs = new Map<string, Promise<Codec>>();
  private readonly compiled = new Map<string, Codec>();

  constructor(private readonly clients: { readonly confluent?: RegistryClient; readonly glue?: RegistryClient }) {}

  /** The codec of a schema already compiled, by schemaRefName, or undefined. */
  compiledCodec(name: string): Codec | undefined {
    return this.compiled.get(name);
  }

  /**
   * The codec of a schema; rejects with the client's RegistryError (notFound: the schema does not exist), a
   * SchemaCompileError, or whatever the client throws when the registry cannot be asked.
   */
  codec(ref: SchemaRef): Promise<Codec> {
    const name = schemaRefName(ref);
    let c = this.codecs.get(name);
    if (c === undefined) {
      const client = this.clients[ref.registry];
      c =
        client === undefined
          ? Promise.reject(
              new RegistryError(`no ${ref.registry === 'confluent' ? 'Confluent' : 'Glue'} schema registry is configured`, true),
            )
          : client.fetch(ref.id).then((text) => {
              let codec: Codec;
              try {
                codec = compileCodec(text, ref.registry);
              } catch (e) {
                throw new SchemaCompileError(reasonOf(e));
              }
              this.compiled.set(name, codec);
              return codec;
            });
      c.catch(() => this.codecs.delete(name));
      this.codecs.set(name, c);
    }
    return c;
  }
}

/** A library's or service's reason, without the data: decoders' messages name types and positions, not values. */
export function reasonOf(e: unknown): string {
  const err = e as Error & { $metadata?: unknown };
  const message = err instanceof Error ? (err.$metadata ? `${err.name}: ${err.message}` : err.message) : String(e);
  return message.length > 300 ? `${message.slice(0, 300)}…` : message;
}
