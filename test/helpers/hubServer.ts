import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the test server does for one path. */
export type Route = { body: Uint8Array } | { status: number } | { truncate: Uint8Array };

/** A model hub on 127.0.0.1 for tests: serves routes, counts requests. */
export async function startHub(routes: Record<string, Route>): Promise<{ url: string; requests: string[]; close: () => Promise<void> }> {
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    requests.push(req.url!);
    const route = routes[req.url!];
    if (!route) return void res.writeHead(404).end('not found');
    if ('status' in route) return void res.writeHead(route.status).end();
    if ('truncate' in route) {
      // Promise the whole file, send half, hang up.
      res.writeHead(200, { 'content-length': String(route.truncate.byteLength) });
      res.write(route.truncate.subarray(0, route.truncate.byteLength >> 1));
      return void setTimeout(() => res.destroy(), 20);
    }
    res.writeHead(200, { 'content-length': String(route.body.byteLength) }).end(route.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
