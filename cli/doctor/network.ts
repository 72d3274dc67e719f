/** Steps 1 and 2 of the doctor: DNS and TCP to each bootstrap server, then the TLS handshake and the broker's certificate. */
import * as dns from 'node:dns';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { CheckResult, PROBLEM } from './result';

/** A bootstrap server that answered on TCP. */
export interface Endpoint {
  readonly server: string;
  readonly host: string;
  readonly port: number;
  readonly address: string;
}

/** The client side of TLS as the Kafka client uses it (root CAs, client certificate and key). */
export interface TlsSettings {
  readonly ca?: string[];
  readonly cert?: string;
  readonly key?: string;
}

const NETWORK_FIX = "allow TCP from the mapping's subnets (its security group) to the broker's port, and check the port";

export async function reachServer(server: string, timeoutMs: number): Promise<{ result: CheckResult; endpoint?: Endpoint }> {
  const fail = (detail: string, fix: string) => ({
    result: { step: 'network' as const, subject: server, status: 'failed' as const, detail, problem: PROBLEM.connection, fix },
  });
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(server);
  if (!m) return fail('not host:port', 'give each bootstrap server as host:port');
  const [, host, portText] = m;
  const port = Number(portText);
  let address = host;
  if (!net.isIP(host)) {
    try {
      address = (await dns.promises.lookup(host)).address;
    } catch (e) {
      return fail(
        `DNS: no address for ${host} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
        "check the host name; a private name must resolve in the mapping's VPC (its DNS resolution and hostnames)",
      );
    }
  }
  const started = Date.now();
  const error = await tcpConnect(address, port, timeoutMs);
  if (error === 'ECONNREFUSED')
    return fail(
      `TCP: connection refused, nothing listens on ${address}:${port}`,
      `start the broker, or check the port (the broker's listeners)`,
    );
  if (error === 'timeout')
    return fail(`TCP: no answer from ${address}:${port} in ${timeoutMs / 1000}s (dropped on the way)`, NETWORK_FIX);
  if (error) return fail(`TCP: ${error} connecting to ${address}:${port}`, NETWORK_FIX);
  return {
    result: {
      step: 'network',
      subject: server,
      status: 'passed',
      detail: `${host === address ? '' : `${host} is ${address}, `}TCP connected in ${Date.now() - started} ms`,
    },
    endpoint: { server, host, port, address },
  };
}

/** undefined when connected, else the error's code or 'timeout'. */
function tcpConnect(address: string, port: number, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: address, port });
    const done = (outcome: string | undefined) => {
      socket.destroy();
      resolve(outcome);
    };
    socket.setTimeout(timeoutMs, () => done('timeout'));
    socket.once('connect', () => done(undefined));
    socket.once('error', (e: NodeJS.ErrnoException) => done(e.code ?? e.message));
  });
}

/** The client certificate and key load together, as the mapping's CLIENT_CERTIFICATE_TLS_AUTH secret must. */
export function checkClientCertificate(settings: TlsSettings): CheckResult | undefined {
  if (!settings.cert) return undefined;
  try {
    tls.createSecureContext({ cert: settings.cert, key: settings.key });
    return undefined;
  } catch (e) {
    return {
      step: 'tls',
      subject: 'client certificate',
      status: 'failed',
      detail: `the certificate and key do not load as a pair: ${(e as Error).message}`,
      problem: PROBLEM.invalidCertificateOrKey,
      fix: 'give the PEM certificate (chain) and its own unencrypted PKCS#8 private key (--cert-file, --key-file)',
    };
  }
}

/** The TLS handshake, the chain verified against the root CAs and the host name against the certificate. */
export function handshake(ep: Endpoint, settings: TlsSettings, timeoutMs: number): Promise<CheckResult> {
  const base = { step: 'tls' as const, subject: ep.server };
  return new Promise((resolve) => {
    const socket = tls.connect({
      host: ep.address,
      port: ep.port,
      servername: net.isIP(ep.host) ? undefined : ep.host,
      ca: settings.ca,
      cert: settings.cert,
      key: settings.key,
      rejectUnauthorized: false,
    });
    const done = (r: CheckResult) => {
      socket.destroy();
      resolve(r);
    };
    socket.setTimeout(timeoutMs, () =>
      done({
        ...base,
        status: 'failed',
        detail: `no TLS handshake in ${timeoutMs / 1000}s`,
        problem: PROBLEM.connection,
        fix: tlsPortFix,
      }),
    );
    socket.once('error', (e) =>
      done({
        ...base,
        status: 'failed',
        detail: `the TLS handshake failed: ${e.message}`,
        problem: PROBLEM.connection,
        fix: tlsPortFix,
      }),
    );
    socket.once('secureConnect', () => done(verified(ep, socket, base)));
  });
}

const tlsPortFix = 'the port must be a TLS listener (SASL_SSL or SSL); for a PLAINTEXT listener leave out --tls and --ca-file';

function verified(ep: Endpoint, socket: tls.TLSSocket, base: { step: 'tls'; subject: string }): CheckResult {
  const peer = socket.getPeerCertificate();
  const names = `certificate ${peer.subject?.CN ? `CN=${peer.subject.CN}` : '(no CN)'} issued by ${peer.issuer?.CN ? `CN=${peer.issuer.CN}` : '(no CN)'}`;
  if (!socket.authorized) {
    return {
      ...base,
      status: 'failed',
      detail: `the broker's ${names} is not trusted: ${String(socket.authorizationError)}`,
      problem: PROBLEM.lambdaFailedToAuthenticateServer,
      fix:
        "give the root CA that signed the broker's certificate (--ca-file here; the mapping's SERVER_ROOT_CA_CERTIFICATE secret), " +
        'or a certificate from a public CA',
    };
  }
  const identity = tls.checkServerIdentity(ep.host, peer);
  if (identity) {
    return {
      ...base,
      status: 'failed',
      detail: `the broker's ${names} does not name ${ep.host}: ${identity.message}`,
      problem: PROBLEM.lambdaFailedToAuthenticateServer,
      fix: `connect by a name the certificate holds (subject alternative names: ${peer.subjectaltname ?? 'none'}), or reissue it with ${ep.host}`,
    };
  }
  return { ...base, status: 'passed', detail: `${socket.getProtocol()}, ${names}, valid until ${peer.valid_to}` };
}

/**
 * The brokers the cluster advertises, other than the bootstrap servers: after the first metadata request a client
 * talks to these addresses only, so each must be reachable from the mapping too.
 */
export async function reachAdvertised(advertised: string[], bootstrap: string[], timeoutMs: number): Promise<CheckResult[]> {
  const others = advertised.filter((a) => !bootstrap.includes(a));
  const results: CheckResult[] = [];
  for (const server of others) {
    const { result } = await reachServer(server, timeoutMs);
    results.push({
      ...result,
      subject: `advertised broker ${server}`,
      ...(result.status === 'failed'
        ? { fix: `${result.fix}; the broker's advertised.listeners must name an address the mapping reaches` }
        : {}),
    });
  }
  return results;
}
