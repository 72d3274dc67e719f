/**
 * A TCP proxy in front of the test environment's single Kafka broker that reads the protocol's frames: it counts
 * requests by API key and can hold (never forward) the Fetch responses of the connections open at the time, while
 * every other response on them (heartbeats, commits) and every later connection flows. A kafkajs consumer behind it
 * then has a fetch that never returns and a group membership that stays alive, deterministically.
 */
import * as net from 'node:net';
import type { ISocketFactory } from 'kafkajs';

export const API = { fetch: 1, joinGroup: 11, heartbeat: 12, leaveGroup: 13 } as const;

export interface KafkaProxy {
  /** kafkajs socketFactory sending every connection through the proxy (the broker's own address is ignored). */
  readonly socketFactory: ISocketFactory;
  /** Requests seen, by API key. */
  readonly requests: Map<number, number>;
  /** Fetch responses held so far. */
  held(): number;
  /** Holds the Fetch responses of the connections open now; returns how many connections that is. */
  holdFetches(): number;
  close(): Promise<void>;
}

/** Splits a stream of size-prefixed Kafka frames. */
function framer(onFrame: (frame: Buffer) => void): (data: Buffer) => void {
  let buf = Buffer.alloc(0);
  return (data) => {
    buf = Buffer.concat([buf, data]);
    while (buf.length >= 4 && buf.length >= 4 + buf.readInt32BE(0)) {
      const size = 4 + buf.readInt32BE(0);
      onFrame(buf.subarray(0, size));
      buf = buf.subarray(size);
    }
  };
}

export async function startKafkaProxy(bootstrap: string): Promise<KafkaProxy> {
  const [host, port] = [bootstrap.slice(0, bootstrap.lastIndexOf(':')), Number(bootstrap.slice(bootstrap.lastIndexOf(':') + 1))];
  const requests = new Map<number, number>();
  const open = new Set<{ hold: boolean; client: net.Socket; upstream: net.Socket }>();
  let held = 0;
  const server = net.createServer((client) => {
    const upstream = net.connect({ host, port });
    const conn = { hold: false, client, upstream };
    open.add(conn);
    const apiKeys = new Map<number, number>(); // correlation id -> API key of the request
    client.on(
      'data',
      framer((frame) => {
        const apiKey = frame.readInt16BE(4);
        apiKeys.set(frame.readInt32BE(8), apiKey);
        requests.set(apiKey, (requests.get(apiKey) ?? 0) + 1);
        upstream.write(frame);
      }),
    );
    upstream.on(
      'data',
      framer((frame) => {
        const correlationId = frame.readInt32BE(4);
        const apiKey = apiKeys.get(correlationId);
        apiKeys.delete(correlationId);
        if (conn.hold && apiKey === API.fetch) held++;
        else client.write(frame);
      }),
    );
    const end = () => {
      open.delete(conn);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const proxyPort = (server.address() as net.AddressInfo).port;
  return {
    socketFactory: ({ onConnect }) => {
      const socket = net.connect({ host: '127.0.0.1', port: proxyPort }, onConnect);
      socket.setKeepAlive(true, 60_000);
      return socket;
    },
    requests,
    held: () => held,
    holdFetches() {
      for (const c of open) c.hold = true;
      return open.size;
    },
    close: () =>
      new Promise((r) => {
        for (const c of open) {
          c.client.destroy();
          c.upstream.destroy();
        }
        server.close(() => r());
      }),
  };
}
