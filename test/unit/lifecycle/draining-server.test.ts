import { connect, type AddressInfo, type Socket } from 'node:net';
import { DrainingServer } from '../../../src/lifecycle/index.ts';

/** A server whose handler answers after `?wait=ms`; keep-alive timeout shortened to keep the test quick. */
async function started(keepAliveMs = 300): Promise<{ drainable: DrainingServer; port: number }> {
  const drainable = new DrainingServer((req, res) => {
    const wait = Number(new URL(req.url!, 'http://x').searchParams.get('wait') ?? 0);
    setTimeout(() => res.end('ok'), wait);
  });
  drainable.server.keepAliveTimeout = keepAliveMs;
  await new Promise<void>((resolve) => drainable.server.listen(0, '127.0.0.1', resolve));
  return { drainable, port: (drainable.server.address() as AddressInfo).port };
}

/** A raw keep-alive connection: what it receives, and whether the server ended it. */
function rawConnection(port: number): Promise<{ socket: Socket; received: () => string; ended: Promise<'ended' | 'reset'> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => resolve({ socket, received: () => text, ended }));
    socket.once('error', reject);
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (d) => { text += d; });
    const ended = new Promise<'ended' | 'reset'>((r) => {
      socket.on('end', () => r('ended'));
      socket.on('error', () => r('reset'));
    });
  });
}

const get = (path: string) => `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An answer that is a 200 and tells the client its connection closes. */
function expectOkThenClose(answer: string): void {
  expect(answer).toMatch(/^HTTP\/1.1 200 OK\r\n/);
  expect(answer).toMatch(/\r\nconnection: close\r\n/i);
}

test('a request in flight when draining starts is answered with Connection: close, then its connection ends', async () => {
  const { drainable, port } = await started();
  const conn = await rawConnection(port);
  conn.socket.write(get('/?wait=200'));
  await sleep(50);
  const drained = drainable.drain(5_000);
  expect(await conn.ended).toBe('ended');
  expectOkThenClose(conn.received());
  expect(await drained).toMatchObject({ cut: 0 });
});

test('an idle keep-alive connection is not dropped: a request sent on it while draining is answered, with Connection: close', async () => {
  const { drainable, port } = await started(1_000);
  const conn = await rawConnection(port);
  conn.socket.write(get('/'));
  await sleep(50);
  expect(conn.received()).toMatch(/keep-alive/i);
  const drained = drainable.drain(5_000);
  await sleep(200);
  const before = conn.received().length;
  conn.socket.write(get('/'));
  expect(await conn.ended).toBe('ended');
  expectOkThenClose(conn.received().slice(before));
  expect(await drained).toMatchObject({ cut: 0 });
});

test('idle and unused connections end by themselves after the keep-alive timeout; new connections are refused', async () => {
  const { drainable, port } = await started(300);
  const idle = await rawConnection(port);
  idle.socket.write(get('/'));
  await sleep(50);
  const unused = await rawConnection(port);
  const drained = drainable.drain(5_000);
  await expect(rawConnection(port).then(() => 'connected', () => 'refused')).resolves.toBe('refused');
  const result = await drained;
  expect(result.cut).toBe(0);
  expect(result.tookMs).toBeLessThan(2_000);
  expect(await idle.ended).toBe('ended');
  expect(['ended', 'reset']).toContain(await unused.ended);
});

test('a connection still busy at the limit is cut, and counted', async () => {
  const { drainable, port } = await started();
  const conn = await rawConnection(port);
  conn.socket.write(get('/?wait=1000'));
  await sleep(50);
  const result = await drainable.drain(300);
  expect(result.cut).toBe(1);
  await conn.ended;
  expect(conn.received()).toBe('');
});
