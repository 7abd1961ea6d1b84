import * as oidc from 'openid-client';
import { Browser, signIn, type Page } from '../test/support/browserless.ts';
import { benchAccount } from './accounts.ts';
import type { Target } from './target.ts';

/** Browsers people sign in with: each session keeps its own, at sign-in and at every refresh. */
export const PERSON_AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
  'Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0',
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36',
];

/** A person's browser that always sends its own User-Agent. */
export class AgentBrowser extends Browser {
  readonly agent: string;

  constructor(agent: string) {
    super();
    this.agent = agent;
  }

  override request(url: string, init: RequestInit = {}): Promise<Page> {
    const headers = new Headers(init.headers);
    headers.set('user-agent', this.agent);
    return super.request(url, { ...init, headers });
  }
}

/** The web client of one target, as a relying party. */
export interface WebClient { target: Target; config: oidc.Configuration }

export async function webClient(target: Target): Promise<WebClient> {
  const config = await oidc.discovery(new URL(target.issuer), target.web.client_id, target.web.client_secret, undefined, { execute: [oidc.allowInsecureRequests] });
  return { target, config };
}

/** An authorization request with PKCE, and the verifier that redeems its code. */
export async function authorizationRequest(client: WebClient): Promise<{ url: string; verifier: string }> {
  const verifier = oidc.randomPKCECodeVerifier();
  const url = oidc.buildAuthorizationUrl(client.config, {
    redirect_uri: client.target.redirect, scope: 'openid', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
  });
  return { url: url.toString(), verifier };
}

/** Through the login (and consent) pages, or straight through when the browser is signed in: the client's callback URL. */
export async function signInAs(client: WebClient, browser: Browser, account: number, url: string): Promise<string> {
  const { email, password } = benchAccount(account);
  return signIn(browser, url, email, password, client.target.redirect);
}

export async function inParallel<T>(items: readonly T[], width: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, async () => {
    for (let i = next++; i < items.length; i = next++) await work(items[i]);
  }));
}
