import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { SecretValue, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { KafkaAuth, KafkaCluster, KafkaTrigger, KafkaTriggerProps } from '../../lib';
import { PBES2_OID, encryptionAlgorithmOid, parseCertificateChain, parsePrivateKey, pemBlocks } from '../../lib/private/pem';
import { testFunction, testStack } from './support';

// The test PKI of testenv, generated with openssl for this run (no private key is committed).

const { generateCerts } = require('../../testenv/lib/certs.js');

interface Pki {
  pem: { [name: string]: string };
  passwords: { pbes1: string; pbes2: string };
}

let pki: Pki;
let dir: string;
beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckl-pem-'));
  pki = await generateCerts(dir);
}, 60_000);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** client → intermediate → root, as Lambda wants it. */
const fullChain = () => pki.pem.clientChain + pki.pem.caCert;

describe('PEM checks', () => {
  test('a chain client → intermediate → root parses and ends with the root', () => {
    const chain = parseCertificateChain(fullChain());
    expect(chain.certificates.map((c) => c.subject)).toEqual([
      'CN=ckl-test-client',
      'CN=ckl-test-intermediate-ca',
      'CN=ckl-test-root-ca',
    ]);
    expect(chain.endsWithRoot).toBe(true);
  });

  test('a chain without its root parses but does not end with a root', () => {
    expect(parseCertificateChain(pki.pem.clientChain).endsWithRoot).toBe(false);
  });

  test.each<[string, () => string, RegExp]>([
    [
      'fails on a chain in reverse order',
      () => pki.pem.caCert + pki.pem.intermediateCert + pki.pem.clientCert,
      /out of order: certificate #1 \(CN=ckl-test-root-ca\) is not issued by certificate #2/,
    ],
    [
      'fails on a chain that skips the intermediate',
      () => pki.pem.clientCert + pki.pem.caCert,
      /certificate #1 \(CN=ckl-test-client\) is not issued by certificate #2 \(CN=ckl-test-root-ca\)/,
    ],
    ['fails on a key block inside the chain', () => pki.pem.clientCert + pki.pem.clientKey, /contains a "PRIVATE KEY" block/],
    ['fails on text outside the blocks', () => `subject=client\n${pki.pem.clientCert}`, /text outside/],
    ['fails on no certificate', () => '', /contains no "-----BEGIN CERTIFICATE-----" block/],
    [
      'fails on a corrupt certificate',
      () => '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n',
      /certificate #1 is not a valid X.509 certificate/,
    ],
  ])('%s', (_name, pem, message) => {
    expect(() => parseCertificateChain(pem())).toThrow(message);
  });

  test('an unencrypted PKCS#8 key is read', () => {
    expect(parsePrivateKey(pki.pem.clientKey)).toEqual({ encrypted: false, key: expect.any(crypto.KeyObject) });
  });

  test('a PBES1 key is accepted and decrypted with its password', () => {
    const info = parsePrivateKey(pki.pem.clientKeyPbes1, pki.passwords.pbes1);
    expect(info.encrypted).toBe(true);
    expect(parseCertificateChain(pki.pem.clientCert).certificates[0].checkPrivateKey(info.key!)).toBe(true);
  });

  test('the encryption scheme is read from the AlgorithmIdentifier: PBES2 for an AES key, PBES1 (PKCS#12 3DES) for the other', () => {
    const der = (pem: string) => pemBlocks(pem)[0].der;
    expect(encryptionAlgorithmOid(der(pki.pem.clientKeyPbes2))).toBe(PBES2_OID);
    expect(encryptionAlgorithmOid(der(pki.pem.clientKeyPbes1))).toBe('1.2.840.113549.1.12.1.3');
  });

  test.each<[string, () => [string, string?], RegExp]>([
    [
      'fails on a PBES2 key',
      () => [pki.pem.clientKeyPbes2, pki.passwords.pbes2],
      /encrypted with PBES2 \(1.2.840.113549.1.5.13\), which Lambda does not support; re-encrypt it with PBES1/,
    ],
    [
      'fails on a PKCS#1 key',
      () => [crypto.createPrivateKey(pki.pem.clientKey).export({ type: 'pkcs1', format: 'pem' }) as string],
      /is a "RSA PRIVATE KEY" block, not PKCS#8; convert it/,
    ],
    [
      'fails on a wrong password',
      () => [pki.pem.clientKeyPbes1, 'wrong'],
      /cannot be decrypted with the given privateKeyPassword/,
    ],
    ['fails on two keys', () => [pki.pem.clientKey + pki.pem.brokerKey], /exactly one private key block, found 2/],
  ])('%s', (_name, args, message) => {
    expect(() => parsePrivateKey(...args())).toThrow(message);
  });

  test('fails on every wrong password, also those whose decryption ends in valid padding', () => {
    // GIVEN 1,000 wrong passwords: about 1 in 200 decrypts the PBES1 key to garbage with valid padding, which OpenSSL
    // then reports as "DECODER routines::unsupported" instead of "bad decrypt"
    const wrong = Array.from({ length: 1_000 }, (_, i) => `wrong-${i}`);
    // WHEN each is tried THEN none is taken for a key the machine cannot decrypt: each fails naming the password
    const passed = wrong.filter((password) => {
      try {
        parsePrivateKey(pki.pem.clientKeyPbes1, password);
        return true;
      } catch (e) {
        return !/cannot be decrypted with the given privateKeyPassword/.test((e as Error).message);
      }
    });
    expect(passed).toEqual([]);
  });
});

function mtlsTrigger(auth: KafkaAuth, extra: Partial<KafkaTriggerProps> = {}): { stack: Stack; template: () => Template } {
  const stack = testStack();
  new KafkaTrigger(stack, 'Trigger', {
    cluster: KafkaCluster.selfManaged({
      bootstrapServers: ['kafka-1.example.internal:9094'],
      rootCaCertificatePem: pki.pem.caCert,
    }),
    topics: ['payments'],
    target: testFunction(stack),
    auth,
    ...extra,
  });
  return { stack, template: () => Template.fromStack(stack) };
}

describe('KafkaTrigger: mTLS and root CA secrets from PEM', () => {
  test('the client certificate secret has the shape Lambda reads and the root CA secret holds the CA', () => {
    // GIVEN a full chain and a PBES1 key with its password
    const { template } = mtlsTrigger(
      KafkaAuth.mtls({
        certificateChainPem: fullChain(),
        privateKeyPem: SecretValue.unsafePlainText(pki.pem.clientKeyPbes1),
        privateKeyPassword: SecretValue.unsafePlainText(pki.passwords.pbes1),
      }),
    );
    // THEN the secrets carry certificate / privateKey / privateKeyPassword and certificate
    const secrets = Object.values(template().findResources('AWS::SecretsManager::Secret')).map((r: any) =>
      JSON.parse(r.Properties.SecretString),
    );
    expect(secrets).toEqual(
      expect.arrayContaining([
        { certificate: fullChain(), privateKey: pki.pem.clientKeyPbes1, privateKeyPassword: pki.passwords.pbes1 },
        { certificate: pki.pem.caCert },
      ]),
    );
    // AND the mapping uses both, and the role may read both and their key
    template().hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      SourceAccessConfigurations: [
        { Type: 'CLIENT_CERTIFICATE_TLS_AUTH', URI: { Ref: Match.stringLikeRegexp('TriggerClientCertificateSecret') } },
        { Type: 'SERVER_ROOT_CA_CERTIFICATE', URI: { Ref: Match.stringLikeRegexp('TriggerRootCaSecret') } },
      ],
    });
    const policy = Object.values(
      template().findResources('AWS::IAM::Policy', {
        Properties: { PolicyName: Match.stringLikeRegexp('TriggerSourceAccessPolicy') },
      }),
    )[0] as any;
    const read = policy.Properties.PolicyDocument.Statement.filter((s: any) =>
      [s.Action].flat().includes('secretsmanager:GetSecretValue'),
    );
    expect(read.map((s: any) => s.Resource.Ref)).toEqual([
      expect.stringMatching(/^TriggerClientCertificateSecret/),
      expect.stringMatching(/^TriggerRootCaSecret/),
    ]);
  });

  test('an unencrypted key needs no password', () => {
    const { template } = mtlsTrigger(
      KafkaAuth.mtls({ certificateChainPem: fullChain(), privateKeyPem: SecretValue.unsafePlainText(pki.pem.clientKey) }),
    );
    template().resourceCountIs('AWS::SecretsManager::Secret', 2);
  });

  test('a key given by reference (Secrets Manager) is passed through unchecked', () => {
    const { template } = mtlsTrigger(
      KafkaAuth.mtls({
        certificateChainPem: fullChain(),
        privateKeyPem: SecretValue.secretsManager('arn:aws:secretsmanager:us-east-1:111122223333:secret:pki-AbCdEf', {
          jsonField: 'key',
        }),
      }),
    );
    template().resourceCountIs('AWS::SecretsManager::Secret', 2);
  });

  test('fails on an SSM SecureString reference, which CloudFormation cannot resolve inside the secret JSON', () => {
    expect(() =>
      mtlsTrigger(
        KafkaAuth.mtls({ certificateChainPem: fullChain(), privateKeyPem: SecretValue.ssmSecure('/kafka/client-key') }),
      ),
    ).toThrow(
      /auth.privateKeyPem was "\{\{resolve:ssm-secure:\/kafka\/client-key\}\}": CloudFormation resolves SSM SecureString references only as a whole property/,
    );
  });

  test('a chain without the root synthesizes with a warning', () => {
    const { stack } = mtlsTrigger(
      KafkaAuth.mtls({ certificateChainPem: pki.pem.clientChain, privateKeyPem: SecretValue.unsafePlainText(pki.pem.clientKey) }),
    );
    Annotations.fromStack(stack).hasWarning('/TestStack/Trigger', Match.stringLikeRegexp('does not end with a self-signed root'));
  });

  test.each<[string, () => KafkaAuth, RegExp]>([
    [
      'fails on a chain out of order',
      () =>
        KafkaAuth.mtls({
          certificateChainPem: pki.pem.caCert + pki.pem.clientChain,
          privateKeyPem: SecretValue.unsafePlainText(pki.pem.clientKey),
        }),
      /auth.certificateChainPem was "<pem>": is out of order/,
    ],
    [
      'fails on a PBES2 key',
      () =>
        KafkaAuth.mtls({
          certificateChainPem: fullChain(),
          privateKeyPem: SecretValue.unsafePlainText(pki.pem.clientKeyPbes2),
          privateKeyPassword: SecretValue.unsafePlainText(pki.passwords.pbes2),
        }),
      /auth.privateKeyPem was "<pem>": is encrypted with PBES2/,
    ],
    [
      'fails on an encrypted key without a password',
      () =>
        KafkaAuth.mtls({ certificateChainPem: fullChain(), privateKeyPem: SecretValue.unsafePlainText(pki.pem.clientKeyPbes1) }),
      /auth.privateKeyPem was "<pem>": is encrypted; give privateKeyPassword/,
    ],
    [
      'fails on a password for an unencrypted key',
      () =>
        KafkaAuth.mtls({
          certificateChainPem: fullChain(),
          privateKeyPem: SecretValue.unsafePlainText(pki.pem.clientKey),
          privateKeyPassword: SecretValue.unsafePlainText('x'),
        }),
      /is not encrypted but privateKeyPassword is set/,
    ],
    [
      'fails on a key of another certificate',
      () =>
        KafkaAuth.mtls({
          certificateChainPem: fullChain(),
          privateKeyPem: SecretValue.unsafePlainText(pki.pem.untrustedClientKey),
        }),
      /does not belong to the first certificate of certificateChainPem/,
    ],
  ])('%s', (_name, auth, message) => {
    expect(() => mtlsTrigger(auth())).toThrow(message);
  });

  test('fails on a root CA PEM with more than one certificate', () => {
    expect(() =>
      mtlsTrigger(KafkaAuth.none(), {
        cluster: KafkaCluster.selfManaged({
          bootstrapServers: ['kafka-1.example.internal:9094'],
          rootCaCertificatePem: pki.pem.intermediateCert + pki.pem.caCert,
        }),
      }),
    ).toThrow(/cluster.rootCaCertificatePem was "<pem>": must hold exactly one certificate, the root CA/);
  });
});
