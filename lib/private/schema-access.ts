import { Token } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { SchemasConfig } from '../../contract/dispatcher-config';

// What a schema registry gives the dispatcher. It lives apart from the registries (../schemas.ts) and the dispatcher's
// schemas (./schemas.ts), which both need it, so that neither imports the other back.

/** What the dispatcher's role and VPC need for the schemas it fetches. */
export interface SchemaAccess {
  /** The statements the dispatcher's role needs (also admitted by its VPC endpoint). */
  readonly statements: iam.PolicyStatement[];
  /** Secrets the role reads (their keys' Decrypt is granted through Secrets Manager). */
  readonly secrets: secretsmanager.ISecret[];
  /** The VPC endpoint its calls need. */
  readonly endpoint?: 'secretsManager' | 'glue';
  /** The TCP port the registry answers on, when known at synth and not 443 (the VPC security group rule). */
  readonly port?: number;
}

/** What a registry gives the dispatcher: its configuration, its grants and the services and ports it calls. */
export interface RecordRegistryBinding extends SchemaAccess {
  /** The `confluent` or `glue` part of the dispatcher's schemas configuration. */
  readonly config: Pick<SchemasConfig, 'confluent' | 'glue'>;
}

/** The port of a registry URL known at synth, unless it is 443 (which the dispatcher's group already sends to). */
export function registryPort(url: string): number | undefined {
  if (Token.isUnresolved(url)) return undefined;
  const parsed = new URL(url);
  const port = Number(parsed.port || (parsed.protocol === 'https:' ? 443 : 80));
  return port === 443 ? undefined : port;
}
