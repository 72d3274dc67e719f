import { Fn, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { secretArnPattern } from './private/kafka-auth-setup';
import { RecordRegistryBinding, registryPort } from './private/schema-access';

/** How the dispatcher reads a record's key or value before it builds the target's payload. */
export enum RecordFieldFormat {
  /** The bytes as they are: text or JSON as the payload format reads them (base64 in the raw format). */
  BYTES = 'bytes',
  /**
   * Confluent wire format: magic byte 0, the 4-byte schema id (Protobuf: its message indexes), then Avro, Protobuf or
   * JSON Schema data; decoded to JSON with the schema from a Confluent-compatible registry.
   * @see https://docs.confluent.io/platform/current/schema-registry/fundamentals/serdes-develop/index.html#wire-format
   */
  CONFLUENT = 'confluent',
  /**
   * Glue Schema Registry wire format: header version 3, compression (none or zlib), the 16-byte schema version id,
   * then Avro, Protobuf or JSON Schema data; decoded to JSON with the schema version from Glue.
   */
  GLUE = 'glue',
}

/** How the dispatcher authenticates to a Confluent-compatible schema registry. */
export enum ConfluentRegistryAuthentication {
  /** No credentials. */
  NONE = 'none',
  /** HTTP basic auth: `secret` holds `{"username": ..., "password": ...}`, as the event source mapping's BASIC_AUTH. */
  BASIC = 'basic',
  /**
   * A TLS client certificate (an https:// URL): `secret` holds `{"certificate": ..., "privateKey": ...,
   * "privateKeyPassword"?: ...}` in PEM, as the event source mapping's CLIENT_CERTIFICATE_TLS_AUTH.
   */
  MTLS = 'mtls',
}

/** A Confluent-compatible schema registry's REST API. */
export interface ConfluentRecordRegistryProps {
  /** The registry's base URL, e.g. "https://registry.example.com:8081" (the path of its Confluent API included). */
  readonly url: string;

  /**
   * How the dispatcher authenticates.
   * @default ConfluentRegistryAuthentication.NONE
   */
  readonly authentication?: ConfluentRegistryAuthentication;

  /**
   * The credentials for BASIC or MTLS (formats at `ConfluentRegistryAuthentication`); the dispatcher may read exactly it.
   * @default - none (required for BASIC and MTLS)
   */
  readonly secret?: secretsmanager.ISecret;

  /**
   * The CA of the registry's TLS certificate, when public CAs do not sign it: `{"certificate": PEM}`.
   * @default - the public CAs Node.js trusts
   */
  readonly rootCaSecret?: secretsmanager.ISecret;
}

/** A schema registry in AWS Glue. */
export interface GlueRecordRegistryProps {
  /**
   * The registry's ARN (`arn:aws:glue:<region>:<account>:registry/<name>`, or `CfnRegistry.attrArn`); the dispatcher may
   * read the schema versions of its schemas (`glue:GetSchemaVersion`) and nothing else.
   */
  readonly registryArn: string;
}

/** Where the dispatcher fetches the schemas of records in a registry's wire format. */
export abstract class RecordSchemaRegistry {
  /** A Confluent-compatible registry (Confluent Platform, Confluent Cloud, Apicurio's `/apis/ccompat/v7`, Karapace...). */
  public static confluent(props: ConfluentRecordRegistryProps): RecordSchemaRegistry {
    return new ConfluentRecordRegistry(props);
  }

  /** A Glue Schema Registry. */
  public static glue(props: GlueRecordRegistryProps): RecordSchemaRegistry {
    return new GlueRecordRegistry(props);
  }

  /** The wire format of the records whose schemas it holds. */
  public abstract readonly format: RecordFieldFormat;

  /**
   * Checks the props (`fail` names them) and returns what the dispatcher needs.
   * @internal
   */
  public abstract _bind(fail: (prop: string, value: unknown, fix: string) => never): RecordRegistryBinding;
}

class ConfluentRecordRegistry extends RecordSchemaRegistry {
  public readonly format = RecordFieldFormat.CONFLUENT;
  constructor(private readonly props: ConfluentRecordRegistryProps) {
    super();
  }

  public _bind(fail: (prop: string, value: unknown, fix: string) => never): RecordRegistryBinding {
    const { url, secret, rootCaSecret } = this.props;
    const auth = this.props.authentication ?? ConfluentRegistryAuthentication.NONE;
    if (!Token.isUnresolved(url)) {
      if (!/^https?:\/\/[^\s/]+/.test(url))
        fail('registry.url', url, 'give the registry\'s http:// or https:// URL, e.g. "https://registry.example.com:8081"');
      if (auth === ConfluentRegistryAuthentication.MTLS && !url.startsWith('https://')) {
        fail('registry.url', url, 'a client certificate (MTLS) needs an https:// URL');
      }
    }
    if (auth !== ConfluentRegistryAuthentication.NONE && secret === undefined) {
      fail(
        'registry.secret',
        undefined,
        `authentication ${auth.toUpperCase()} reads its credentials from a secret: give it (formats at ConfluentRegistryAuthentication)`,
      );
    }
    if (auth === ConfluentRegistryAuthentication.NONE && secret !== undefined) {
      fail(
        'registry.authentication',
        'NONE',
        'a secret is given but not used: set authentication to BASIC or MTLS, or remove the secret',
      );
    }
    const secrets = [secret, rootCaSecret].filter((s): s is secretsmanager.ISecret => s !== undefined);
    return {
      config: { confluent: { url, auth, secretArn: secret?.secretArn, rootCaSecretArn: rootCaSecret?.secretArn } },
      endpoint: secrets.length ? 'secretsManager' : undefined,
      statements: secrets.length
        ? [new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: secrets.map(secretArnPattern) })]
        : [],
      secrets,
      port: registryPort(url),
    };
  }
}

const GLUE_REGISTRY_ARN = /^arn:[^:]+:glue:([^:]+):[^:]+:registry\/([^/]+)$/;

class GlueRecordRegistry extends RecordSchemaRegistry {
  public readonly format = RecordFieldFormat.GLUE;
  constructor(private readonly props: GlueRecordRegistryProps) {
    super();
  }

  public _bind(fail: (prop: string, value: unknown, fix: string) => never): RecordRegistryBinding {
    const arn = this.props.registryArn;
    let region: string;
    let schemas: string;
    if (Token.isUnresolved(arn)) {
      const [head, name] = [Fn.select(0, Fn.split(':registry/', arn)), Fn.select(1, Fn.split(':registry/', arn))];
      region = Fn.select(3, Fn.split(':', arn));
      schemas = Fn.join('', [head, ':schema/', name, '/*']);
    } else {
      const match = GLUE_REGISTRY_ARN.exec(arn);
      if (!match)
        fail('registry.registryArn', arn, 'give a Glue registry ARN, "arn:aws:glue:<region>:<account>:registry/<name>"');
      region = match![1];
      schemas = `${arn.replace(/:registry\/([^/]+)$/, ':schema/$1')}/*`;
    }
    // GetSchemaVersion by version id is authorized on the registry and on the schema the version belongs to.
    return {
      config: { glue: { region } },
      endpoint: 'glue',
      statements: [new iam.PolicyStatement({ actions: ['glue:GetSchemaVersion'], resources: [arn, schemas] })],
      secrets: [],
    };
  }
}

/** Keys and values decoded with their schemas before the target's payload is built. */
export interface RecordSchemas {
  /** Where the schemas of records in its wire format are. */
  readonly registry: RecordSchemaRegistry;

  /**
   * The key's format.
   * @default RecordFieldFormat.BYTES
   */
  readonly key?: RecordFieldFormat;

  /**
   * The value's format.
   * @default - the registry's wire format
   */
  readonly value?: RecordFieldFormat;
}
