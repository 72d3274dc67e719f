import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sources from 'aws-cdk-lib/aws-lambda-event-sources';
import { FieldFormatName, SchemasConfig } from '../../contract/dispatcher-config';
import { RecordFieldFormat, RecordSchemaRegistry, RecordSchemas } from '../schemas';
import { SchemaAccess, registryPort } from './schema-access';

type Fail = (prop: string, value: unknown, fix: string) => never;
type MappingField = 'KEY' | 'VALUE';

/**
 * The dispatcher's `schemas` configuration: its own formats and registry (`KafkaDispatcherProps.schemas`), and the
 * fields an event source mapping's schema registry already decodes or validates (a KafkaTrigger's
 * `schemaRegistry`), which arrive in the mapping's JSON or SOURCE record format.
 */
export class DispatcherSchemas {
  private readonly formats: { key: FieldFormatName; value: FieldFormatName };
  private registries: Pick<SchemasConfig, 'confluent' | 'glue'> = {};
  /** The record format each mapping field arrives in, once a trigger has bound. */
  private mapping?: { fields: MappingField[]; format: FieldFormatName };
  /** What the dispatcher's own registry needs. */
  public readonly ownAccess?: SchemaAccess;

  constructor(own: RecordSchemas | undefined, failOn: Fail) {
    const fail: Fail = (prop, value, fix) => failOn(`schemas.${prop}`, value, fix);
    this.formats = {
      key: own?.key ?? RecordFieldFormat.BYTES,
      value: own?.value ?? own?.registry.format ?? RecordFieldFormat.BYTES,
    };
    if (own === undefined) return;
    for (const field of ['key', 'value'] as const) {
      const format = this.formats[field];
      if (format !== RecordFieldFormat.BYTES && format !== own.registry.format) {
        fail(
          field,
          format,
          `the registry holds ${own.registry.format} schemas: use RecordFieldFormat.${own.registry.format.toUpperCase()} or BYTES, or a ${format} registry`,
        );
      }
    }
    if (this.formats.key === RecordFieldFormat.BYTES && this.formats.value === RecordFieldFormat.BYTES) {
      fail(
        'value',
        'BYTES',
        'key and value are both BYTES, so the registry is never read: set the format of the field that has a schema, or remove schemas',
      );
    }
    const binding = own.registry._bind(fail);
    this.registries = binding.config;
    this.ownAccess = binding;
  }

  /**
   * A KafkaTrigger with a schema registry targets the dispatcher: the fields its mapping validates arrive as JSON
   * (decoded by the mapping) or in their source format with the schema id in their metadata, which the dispatcher
   * decodes with the same registry. The mapping's own grants (its SourceAccessPolicy, on the dispatcher's role)
   * cover those reads. Returns what else the dispatcher needs (its VPC endpoint), or fails naming the trigger's prop.
   */
  public bindMapping(
    registry: lambda.ISchemaRegistry,
    config: lambda.CfnEventSourceMapping.SchemaRegistryConfigProperty,
    fail: Fail,
  ): SchemaAccess | undefined {
    const fields = ((config.schemaValidationConfigs as lambda.CfnEventSourceMapping.SchemaValidationConfigProperty[]) ?? []).map(
      (v) => v.attribute as MappingField,
    );
    const format: FieldFormatName = config.eventRecordFormat === 'JSON' ? 'mapping-json' : 'mapping-source';
    const summary = JSON.stringify({ fields, format });
    if (this.mapping !== undefined) {
      if (JSON.stringify(this.mapping) !== summary) {
        fail(
          'schemaRegistry',
          summary,
          `another trigger of this dispatcher delivers ${JSON.stringify(this.mapping)}: give the dispatcher's triggers the same schema registry settings, or each its own dispatcher`,
        );
      }
      return undefined;
    }
    for (const field of fields) {
      const own = this.formats[field === 'KEY' ? 'key' : 'value'];
      if (own !== 'bytes') {
        fail(
          'schemaRegistry',
          field,
          `the dispatcher also decodes the ${field.toLowerCase()} (schemas.${field.toLowerCase()} ${own}): decode it in one place, remove it from the mapping's schemaValidationConfigs or from the dispatcher's schemas`,
        );
      }
    }
    this.mapping = { fields, format };
    if (format === 'mapping-json' || fields.length === 0) return undefined;
    if (registry instanceof sources.GlueSchemaRegistry) {
      if (this.registries.glue !== undefined) return undefined;
      const binding = RecordSchemaRegistry.glue({ registryArn: config.schemaRegistryUri! })._bind(fail);
      this.registries = { ...this.registries, ...binding.config };
      return binding;
    }
    if (this.registries.confluent !== undefined) {
      fail(
        'schemaRegistry',
        config.schemaRegistryUri,
        'the dispatcher reads another Confluent registry (its schemas.registry): one dispatcher reads one Confluent registry',
      );
    }
    const access = (config.accessConfigs as lambda.CfnEventSourceMapping.SchemaRegistryAccessConfigProperty[]) ?? [];
    const uri = (type: string) => access.find((a) => a.type === type)?.uri;
    const basic = uri('BASIC_AUTH');
    const mtls = uri('CLIENT_CERTIFICATE_TLS_AUTH');
    const rootCa = uri('SERVER_ROOT_CA_CERTIFICATE');
    this.registries = {
      ...this.registries,
      confluent: {
        url: config.schemaRegistryUri!,
        auth: basic ? 'basic' : mtls ? 'mtls' : 'none',
        secretArn: basic ?? mtls,
        rootCaSecretArn: rootCa,
      },
    };
    const secretArns = [basic ?? mtls, rootCa].filter((a): a is string => a !== undefined);
    return {
      statements: secretArns.length
        ? [new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: secretArns })]
        : [],
      secrets: [],
      endpoint: secretArns.length ? 'secretsManager' : undefined,
      port: registryPort(config.schemaRegistryUri!),
    };
  }

  /** The configuration, or none when every field is read as bytes. */
  public config(): SchemasConfig | undefined {
    const formats = { ...this.formats };
    for (const field of this.mapping?.fields ?? []) formats[field === 'KEY' ? 'key' : 'value'] = this.mapping!.format;
    if (formats.key === 'bytes' && formats.value === 'bytes') return undefined;
    return { ...formats, ...this.registries };
  }
}
