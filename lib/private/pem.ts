import * as crypto from 'crypto';

/**
 * Synth-time checks of the PEM that goes into a CLIENT_CERTIFICATE_TLS_AUTH or SERVER_ROOT_CA_CERTIFICATE
 * secret, so a chain or key that Lambda would refuse at poll time fails `cdk synth` instead.
 * Problems are returned as messages (the caller adds the prop name and throws).
 */

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([A-Za-z0-9+/=\r\n]+?)-----END \1-----/g;

interface PemBlock {
  readonly label: string;
  readonly der: Buffer;
  readonly text: string;
}

/** Splits PEM text into blocks; anything but whitespace between blocks is an error. */
export function pemBlocks(pem: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  let rest = pem;
  for (const m of pem.matchAll(BLOCK)) {
    blocks.push({ label: m[1], der: Buffer.from(m[2].replace(/\s+/g, ''), 'base64'), text: m[0] });
    rest = rest.replace(m[0], '');
  }
  if (rest.trim() !== '') {
    throw new PemError(
      'contains text outside "-----BEGIN ...-----" / "-----END ...-----" blocks, or a block with mismatched markers',
    );
  }
  return blocks;
}

/** A PEM problem; the message completes "<prop> ...". */
export class PemError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PemError';
  }
}

export interface CertificateChainInfo {
  readonly certificates: crypto.X509Certificate[];
  /** Whether the chain ends with a self-issued certificate (a root). */
  readonly endsWithRoot: boolean;
}

/**
 * Parses a chain that must start with the leaf and continue with each issuer in turn (client →
 * intermediates → root), as Lambda requires for the `certificate` field.
 */
export function parseCertificateChain(pem: string): CertificateChainInfo {
  const blocks = pemBlocks(pem);
  if (blocks.length === 0) throw new PemError('contains no "-----BEGIN CERTIFICATE-----" block');
  const other = blocks.find((b) => b.label !== 'CERTIFICATE');
  if (other) throw new PemError(`contains a "${other.label}" block; only CERTIFICATE blocks belong in a certificate chain`);
  const certificates = blocks.map((b, i) => {
    try {
      return new crypto.X509Certificate(b.der);
    } catch (e) {
      throw new PemError(`certificate #${i + 1} is not a valid X.509 certificate (${(e as Error).message})`);
    }
  });
  for (let i = 0; i + 1 < certificates.length; i++) {
    const cert = certificates[i];
    const issuer = certificates[i + 1];
    if (!cert.checkIssued(issuer) || !cert.verify(issuer.publicKey)) {
      throw new PemError(
        `is out of order: certificate #${i + 1} (${cert.subject.replace(/\n/g, ', ')}) is not issued by certificate #${i + 2} ` +
          `(${issuer.subject.replace(/\n/g, ', ')}); list the client certificate first, then each issuer, ending with the root`,
      );
    }
  }
  const last = certificates[certificates.length - 1];
  return { certificates, endsWithRoot: last.checkIssued(last) };
}

/** PBES2 (PKCS#5 v2.0): Lambda cannot read keys encrypted with it. */
export const PBES2_OID = '1.2.840.113549.1.5.13';
/** PBES1 schemes: PKCS#5 v1.5 (pbeWithMD5AndDES-CBC, ...) and PKCS#12 (pbeWithSHAAnd3-KeyTripleDES-CBC, ...). */
const PBES1_OIDS = new Set([
  '1.2.840.113549.1.5.1',
  '1.2.840.113549.1.5.3',
  '1.2.840.113549.1.5.4',
  '1.2.840.113549.1.5.6',
  '1.2.840.113549.1.5.10',
  '1.2.840.113549.1.5.11',
  '1.2.840.113549.1.12.1.1',
  '1.2.840.113549.1.12.1.2',
  '1.2.840.113549.1.12.1.3',
  '1.2.840.113549.1.12.1.4',
  '1.2.840.113549.1.12.1.5',
  '1.2.840.113549.1.12.1.6',
]);

/** Reads one DER TLV at `offset`; returns tag, content start and end. */
function tlv(der: Buffer, offset: number): { tag: number; start: number; end: number } {
  const tag = der[offset];
  let len = der[offset + 1];
  let start = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + der[start + i];
    start += n;
  }
  if (tag === undefined || start + len > der.length) throw new PemError('is not valid DER');
  return { tag, start, end: start + len };
}

function decodeOid(bytes: Buffer): string {
  const parts = [Math.floor(bytes[0] / 40), bytes[0] % 40];
  let v = 0;
  for (const b of bytes.subarray(1)) {
    v = v * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      parts.push(v);
      v = 0;
    }
  }
  return parts.join('.');
}

/**
 * OID of the encryption scheme of an EncryptedPrivateKeyInfo:
 * SEQUENCE { SEQUENCE { OID algorithm, params }, OCTET STRING }.
 */
export function encryptionAlgorithmOid(der: Buffer): string {
  const outer = tlv(der, 0);
  const algId = tlv(der, outer.start);
  const oid = tlv(der, algId.start);
  if (outer.tag !== 0x30 || algId.tag !== 0x30 || oid.tag !== 0x06) throw new PemError('is not a PKCS#8 EncryptedPrivateKeyInfo');
  return decodeOid(der.subarray(oid.start, oid.end));
}

export interface PrivateKeyInfo {
  readonly encrypted: boolean;
  /** The key when it could be read (unencrypted, or decrypted with the given password). */
  readonly key?: crypto.KeyObject;
}

/**
 * Checks a PKCS#8 private key: `BEGIN PRIVATE KEY`, or `BEGIN ENCRYPTED PRIVATE KEY` with a PBES1
 * scheme (Lambda refuses PBES2). When a password is given, it must decrypt the key.
 */
export function parsePrivateKey(pem: string, password?: string): PrivateKeyInfo {
  const blocks = pemBlocks(pem);
  if (blocks.length !== 1) throw new PemError(`must contain exactly one private key block, found ${blocks.length}`);
  const [block] = blocks;
  if (block.label === 'PRIVATE KEY') {
    try {
      return { encrypted: false, key: crypto.createPrivateKey({ key: block.text, format: 'pem' }) };
    } catch (e) {
      throw new PemError(`is not a readable PKCS#8 private key (${(e as Error).message})`);
    }
  }
  if (block.label !== 'ENCRYPTED PRIVATE KEY') {
    throw new PemError(
      `is a "${block.label}" block, not PKCS#8; convert it with "openssl pkcs8 -topk8 -in key.pem -nocrypt" ` +
        '(or "-v1 PBE-SHA1-3DES" to encrypt it with PBES1)',
    );
  }
  const oid = encryptionAlgorithmOid(block.der);
  if (oid === PBES2_OID) {
    throw new PemError(
      `is encrypted with PBES2 (${PBES2_OID}), which Lambda does not support; re-encrypt it with PBES1, ` +
        'e.g. "openssl pkcs8 -topk8 -v1 PBE-SHA1-3DES -in plain.key -out key.pem"',
    );
  }
  if (!PBES1_OIDS.has(oid)) throw new PemError(`is encrypted with an unknown scheme (${oid}); Lambda supports PBES1 only`);
  if (password === undefined) return { encrypted: true };
  try {
    return { encrypted: true, key: crypto.createPrivateKey({ key: block.text, format: 'pem', passphrase: password }) };
  } catch (e) {
    // OpenSSL builds without the legacy provider cannot run some PBES1 ciphers ("digital envelope routines::unsupported").
    // A wrong password reports "bad decrypt", or, when its garbage happens to end in valid padding (about 1 in 200
    // passwords), "DECODER routines::unsupported": that one is a wrong password too.
    if ((e as { library?: string }).library === 'digital envelope routines' && /unsupported/i.test((e as Error).message))
      return { encrypted: true };
    throw new PemError(`cannot be decrypted with the given privateKeyPassword (${(e as Error).message})`);
  }
}
