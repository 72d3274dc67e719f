'use strict';
/**
 * Test PKI generated with the openssl CLI into <runDir>/certs (fresh per run, never committed):
 *   root CA -> broker cert (SAN DNS:localhost, IP:127.0.0.1)
 *   root CA -> intermediate CA -> client cert (so a client -> intermediate -> root chain exists)
 *   untrusted CA -> rogue client cert (must be refused by the broker)
 * Client keys come as PKCS#8 PEM, PBES1-encrypted (PBE-SHA1-3DES, what MSK docs produce) and
 * PBES2-encrypted (AES-256-CBC, for refusal tests).
 */
const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');
const { run } = require('./util');

const DAYS = '30';

async function openssl(cwd, args) {
  return run('openssl', args, { cwd });
}

/** RSA 2048 key as unencrypted PKCS#8 (`BEGIN PRIVATE KEY`). */
const genKey = (dir, name) =>
  openssl(dir, ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', `${name}.key`]);

async function selfSignedCa(dir, name, cn) {
  await genKey(dir, name);
  await openssl(dir, [
    'req',
    '-x509',
    '-new',
    '-key',
    `${name}.key`,
    '-out',
    `${name}.pem`,
    '-days',
    DAYS,
    '-subj',
    `/CN=${cn}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
}

/** Issue a cert for `name` signed by `ca`, with the given X.509v3 extensions. */
async function issue(dir, name, cn, ca, ext) {
  await genKey(dir, name);
  await openssl(dir, ['req', '-new', '-key', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
  fs.writeFileSync(path.join(dir, `${name}.ext`), ext.join('\n') + '\n');
  await openssl(dir, [
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${ca}.pem`,
    '-CAkey',
    `${ca}.key`,
    '-CAcreateserial',
    '-out',
    `${name}.pem`,
    '-days',
    DAYS,
    '-sha256',
    '-extfile',
    `${name}.ext`,
  ]);
}

/**
 * Generate everything; returns { dir, files: {...paths}, passwords: {...}, pem: {...contents} }.
 */
async function generateCerts(dir) {
  fs.mkdirSync(dir, { recursive: true });
  const leafExt = (eku) => [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    `extendedKeyUsage=${eku}`,
  ];
  await Promise.all([
    (async () => {
      await selfSignedCa(dir, 'ca', 'ckl-test-root-ca');
      await Promise.all([
        issue(dir, 'broker', 'localhost', 'ca', [
          ...leafExt('serverAuth,clientAuth'),
          'subjectAltName=DNS:localhost,IP:127.0.0.1',
        ]),
        (async () => {
          await issue(dir, 'intermediate', 'ckl-test-intermediate-ca', 'ca', [
            'basicConstraints=critical,CA:TRUE,pathlen:0',
            'keyUsage=critical,keyCertSign,cRLSign',
          ]);
          await issue(dir, 'client', 'ckl-test-client', 'intermediate', leafExt('clientAuth'));
        })(),
      ]);
    })(),
    (async () => {
      await selfSignedCa(dir, 'untrusted-ca', 'ckl-untrusted-ca');
      await issue(dir, 'untrusted-client', 'ckl-untrusted-client', 'untrusted-ca', leafExt('clientAuth'));
    })(),
  ]);
  const read = (f) => fs.readFileSync(path.join(dir, f), 'utf8');
  const write = (f, s) => fs.writeFileSync(path.join(dir, f), s);
  // Chains as a TLS peer sends them (leaf first); the client chain needs the intermediate, the trust
  // stores only hold the root.
  write('client-chain.pem', read('client.pem') + read('intermediate.pem'));
  write('untrusted-client-chain.pem', read('untrusted-client.pem'));
  // Kafka PEM key store: PKCS#8 key followed by the certificate chain.
  write('broker-keystore.pem', read('broker.key') + read('broker.pem'));

  const passwords = {
    pbes1: `pbes1-${crypto.randomBytes(6).toString('hex')}`,
    pbes2: `pbes2-${crypto.randomBytes(6).toString('hex')}`,
  };
  await Promise.all([
    openssl(dir, [
      'pkcs8',
      '-topk8',
      '-v1',
      'PBE-SHA1-3DES',
      '-in',
      'client.key',
      '-out',
      'client.pbes1.key',
      '-passout',
      `pass:${passwords.pbes1}`,
    ]),
    openssl(dir, [
      'pkcs8',
      '-topk8',
      '-v2',
      'aes-256-cbc',
      '-v2prf',
      'hmacWithSHA256',
      '-in',
      'client.key',
      '-out',
      'client.pbes2.key',
      '-passout',
      `pass:${passwords.pbes2}`,
    ]),
  ]);
  for (const f of fs.readdirSync(dir)) if (/\.(csr|ext|srl)$/.test(f)) fs.unlinkSync(path.join(dir, f));

  const files = {
    caCert: 'ca.pem',
    caKey: 'ca.key',
    intermediateCert: 'intermediate.pem',
    brokerCert: 'broker.pem',
    brokerKey: 'broker.key',
    brokerKeystore: 'broker-keystore.pem',
    clientCert: 'client.pem',
    clientChain: 'client-chain.pem',
    clientKey: 'client.key',
    clientKeyPbes1: 'client.pbes1.key',
    clientKeyPbes2: 'client.pbes2.key',
    untrustedCaCert: 'untrusted-ca.pem',
    untrustedClientCert: 'untrusted-client.pem',
    untrustedClientKey: 'untrusted-client.key',
  };
  const out = { dir, files: {}, pem: {}, passwords };
  for (const [k, f] of Object.entries(files)) {
    out.files[k] = path.join(dir, f);
    out.pem[k] = read(f);
  }
  return out;
}

module.exports = { generateCerts };
