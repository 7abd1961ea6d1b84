/**
 * What the Chromium tests share: Chromium, a Vigil whose issuer is http://localhost (WebAuthn
 * refuses IP addresses as RP IDs), and a relying party whose redirect URI answers a plain "ok",
 * so that a browser sent back to it shows where it arrived.
 */
import { createServer, type Server } from 'node:http';
import type { Browser } from 'playwright-core';
import { launchChromium } from './chromium.ts';
import { startStack, type Stack } from './stack.ts';
import { freePort } from './vigil-process.ts';

export interface BrowserStack extends Stack {
  browser: Browser;
  /** The relying party's redirect URI, http://localhost:<port>/cb. */
  redirectUri: string;
  /** Closes Chromium, stops the stack, then the relying party. */
  stop(): Promise<void>;
}

/** Starts the relying party, then Chromium and the stack (with `extraEnv`) together; a failed start cleans up after itself. */
export async function startBrowserStack(extraEnv: Record<string, string> = {}): Promise<BrowserStack> {
  const rpPort = await freePort();
  const rp: Server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end('relying party: ok'));
  await new Promise<void>((resolve) => rp.listen(rpPort, '127.0.0.1', resolve));
  const [browser, stack] = await Promise.allSettled([launchChromium(), startStack(extraEnv, { issuerHost: 'localhost' })]);
  const stop = async () => {
    if (browser.status === 'fulfilled') await browser.value.close();
    if (stack.status === 'fulfilled') await stack.value.stop();
    await new Promise((resolve) => rp.close(resolve));
  };
  if (browser.status === 'fulfilled' && stack.status === 'fulfilled') {
    return { ...stack.value, browser: browser.value, redirectUri: `http://localhost:${rpPort}/cb`, stop };
  }
  await stop();
  throw [browser, stack].filter((s): s is PromiseRejectedResult => s.status === 'rejected')[0].reason;
}
