/**
 * Secrets Manager secrets in the event source mapping's formats (https://docs.aws.amazon.com/lambda/latest/dg/with-kafka-cluster-auth.html):
 * JSON objects with username/password, certificate/privateKey/privateKeyPassword, or a root CA certificate.
 */
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { secretsManagerSdk } from './sdk';

/** Reads secrets; a secret or field that is not as expected is reported with the caller's error type. */
export class SecretReader {
  constructor(
    private client: SecretsManagerClient | undefined,
    private readonly errorOf: (message: string) => Error,
  ) {}

  async json(arn: string): Promise<Record<string, unknown>> {
    this.client ??= new (secretsManagerSdk().SecretsManagerClient)({});
    const out = await this.client.send(new (secretsManagerSdk().GetSecretValueCommand)({ SecretId: arn }));
    try {
      const parsed = JSON.parse(out.SecretString ?? '');
      if (typeof parsed === 'object' && parsed !== null) return parsed;
    } catch {
      /* below */
    }
    throw this.errorOf(`secret ${arn} is not a JSON object`);
  }

  field(secret: Record<string, unknown>, field: string, arn: string): string {
    const v = secret[field];
    if (typeof v !== 'string' || v.length === 0) throw this.errorOf(`secret ${arn} has no "${field}" string field`);
    return v;
  }

  /**
   * A PEM field: secrets pasted as one line (as Lambda's documentation shows them) lose the line breaks PEM parsers
   * need; the blocks are rebuilt with 64-character lines and nothing between them.
   */
  pem(secret: Record<string, unknown>, field: string, arn: string): string {
    const blocks = [...this.field(secret, field, arn).matchAll(/-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g)].map(
      ([, label, body]) => {
        const b64 = body.replace(/\s+/g, '');
        return `-----BEGIN ${label}-----\n${b64.match(/.{1,64}/g)?.join('\n') ?? ''}\n-----END ${label}-----\n`;
      },
    );
    if (blocks.length === 0) throw this.errorOf(`secret ${arn}: field "${field}" holds no PEM block (-----BEGIN ...-----)`);
    return blocks.join('');
  }
}
