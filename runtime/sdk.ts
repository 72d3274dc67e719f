/**
 * AWS SDK v3 clients, loaded on first use: requiring a client costs about 100 ms, so a handler pays
 * only for the services it calls, and not while its module loads. The Lambda Node.js runtime ships
 * the SDK, so the bundles leave it out.
 */
import type * as DynamoDb from '@aws-sdk/client-dynamodb';
import type * as Glue from '@aws-sdk/client-glue';
import type * as Lambda from '@aws-sdk/client-lambda';
import type * as SecretsManager from '@aws-sdk/client-secrets-manager';
import type * as Sts from '@aws-sdk/client-sts';

let dynamodb: typeof DynamoDb | undefined;
let glue: typeof Glue | undefined;
let lambda: typeof Lambda | undefined;
let secretsManager: typeof SecretsManager | undefined;
let sts: typeof Sts | undefined;

export const dynamodbSdk = (): typeof DynamoDb => (dynamodb ??= require('@aws-sdk/client-dynamodb'));
export const glueSdk = (): typeof Glue => (glue ??= require('@aws-sdk/client-glue'));
export const lambdaSdk = (): typeof Lambda => (lambda ??= require('@aws-sdk/client-lambda'));
export const secretsManagerSdk = (): typeof SecretsManager => (secretsManager ??= require('@aws-sdk/client-secrets-manager'));
export const stsSdk = (): typeof Sts => (sts ??= require('@aws-sdk/client-sts'));
