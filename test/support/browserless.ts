/**
 * A person's browser without a browser: a cookie jar and form submission over fetch, enough to
 * walk the login and consent pages. Real-browser tests come with the MFA work.
 */
export class CookieJar {
  readonly #cookies = new Map<string, string>();

  store(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some((a) => /^\s*expires=Thu, 01 Jan 1970/i.test(a)) || attrs.some((a) => /^\s*max-age=0/i.test(a));
      if (expired || value === '') this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
  }

  header(): string {
    return [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

export interface Page {
  status: number;
  url: string;
  body: string;
  headers?: Headers;
  location?: string;
}

export class Browser {
  readonly jar = new CookieJar();

  /** One request, no redirect following; the cookie jar is updated. */
  async request(url: string, init: RequestInit = {}): Promise<Page> {
    const headers = new Headers(init.headers);
    const cookie = this.jar.header();
    if (cookie) headers.set('cookie', cookie);
    if (!headers.has('accept')) headers.set('accept', 'text/html');
    const response = await fetch(url, { ...init, headers, redirect: 'manual' });
    this.jar.store(response);
    const location = response.headers.get('location') ?? undefined;
    return { status: response.status, url, headers: response.headers, body: await response.text(), location: location ? new URL(location, url).toString() : undefined };
  }

  /** Follows redirects until a page that is not a redirect, or until `stopAt` matches the next URL. */
  async follow(url: string, stopAt?: (url: string) => boolean, init: RequestInit = {}): Promise<Page> {
    let page = await this.request(url, init);
    for (let hops = 0; page.location && hops < 20; hops++) {
      if (stopAt?.(page.location)) return page;
      page = await this.request(page.location);
    }
    return page;
  }

  async submit(page: Page, action: string, fields: Record<string, string>, stopAt?: (url: string) => boolean): Promise<Page> {
    const target = new URL(action, page.url).toString();
    return this.follow(target, stopAt, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });
  }
}

export function hiddenField(html: string, name: string): string {
  const match = new RegExp(`name="${name}" value="([^"]*)"`).exec(html);
  if (!match) throw new Error(`no hidden field ${name} in page:\n${html.slice(0, 2000)}`);
  return match[1];
}

export function formAction(html: string, contains: string): string {
  const match = new RegExp(`action="([^"]*${contains}[^"]*)"`).exec(html);
  if (!match) throw new Error(`no form posting to *${contains}* in page:\n${html.slice(0, 2000)}`);
  return match[1].replace(/&amp;/g, '&');
}

/** What a sign-in may be asked beyond the password: a second factor; and where to note the pages shown. */
export interface SignInOptions {
  /** An authenticator app's code, when the factor page offers the app. */
  totp?: () => Promise<string> | string;
  /** Filled with the pages shown on the way, in order: `login`, `factor`, `consent`. */
  seen?: string[];
}

/**
 * Signs in through the real login, second-factor and consent pages, starting at an authorization
 * URL, and returns the redirect to the client (with code or error).
 */
export async function signIn(browser: Browser, authorizationUrl: string, email: string, password: string, redirectPrefix: string, options: SignInOptions = {}): Promise<string> {
  const isClient = (u: string) => u.startsWith(redirectPrefix);
  let page = await browser.follow(authorizationUrl, isClient);
  for (let step = 0; step < 5; step++) {
    if (page.location && isClient(page.location)) return page.location;
    if (page.body.includes('/login"')) {
      options.seen?.push('login');
      page = await browser.submit(page, formAction(page.body, '/login'), { csrf: hiddenField(page.body, 'csrf'), email, password }, isClient);
    } else if (options.totp && page.body.includes('/totp"')) {
      options.seen?.push('factor');
      page = await browser.submit(page, formAction(page.body, '/totp'), { csrf: hiddenField(page.body, 'csrf'), code: await options.totp() }, isClient);
    } else if (page.body.includes('/confirm"')) {
      options.seen?.push('consent');
      page = await browser.submit(page, formAction(page.body, '/confirm'), { csrf: hiddenField(page.body, 'csrf') }, isClient);
    } else {
      throw new Error(`unexpected page (${page.status}):\n${page.body.slice(0, 2000)}`);
    }
  }
  throw new Error('sign-in did not reach the client');
}
