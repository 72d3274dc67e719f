/**
 * A loopback HTTP proxy the ledger puts between two parts of the pipeline, to count what crosses (e.g. the
 * relay's Secrets Manager reads) or to spoil requests on purpose (malformed records in a mapping's event),
 * outside the code under test.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Proxy {
  readonly url: string;
  /** Requests seen, by the name `classify` gave them. */
  readonly counts: Map<string, number>;
  close(): Promise<void>;
}

export interface ProxyOptions {
  /** Where requests go, e.g. http://127.0.0.1:4566. */
  readonly target: string;
  /** The name a request is counted under (e.g. its X-Amz-Target); undefined: not counted. */
  readonly classify?: (req: http.IncomingMessage, body: Buffer) => string | undefined;
  /** Rewrites a request body before it is forwarded. */
  readonly rewrite?: (req: http.IncomingMessage, body: Buffer) => Buffer;
}

export async function startProxy(o: ProxyOptions): Promise<Proxy> {
  const target = new URL(o.target);
  const counts = new Map<string, number>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body: Buffer = Buffer.concat(chunks);
      const name = o.classify?.(req, body);
      if (name !== undefined) counts.set(name, (counts.get(name) ?? 0) + 1);
      if (o.rewrite) body = o.rewrite(req, body);
      const headers = { ...req.headers, host: target.host, 'content-length': String(body.length) };
      const up = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      up.on('error', (e) => {
        res.writeHead(502);
        res.end(String(e.message));
      });
      up.end(body);
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    counts,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
