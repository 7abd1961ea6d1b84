import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import argon2 from 'argon2';
import type Provider from 'oidc-provider';

/** The baseline's people: email → account id and argon2id hash. */
export type PasswordBook = ReadonlyMap<string, { accountId: string; passwordHash: string }>;

const escape = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * The smallest interaction pages that do the job: a password form and a consent form, each
 * with a CSRF field, shaped like Vigil's so that the bench's browser-less sign-in walks both.
 */
export function interactionHandler(provider: Provider, people: PasswordBook) {
  const csrfKey = randomBytes(32);
  const csrfFor = (uid: string) => createHmac('sha256', csrfKey).update(uid).digest('base64url');
  const csrfOk = (uid: string, given: string | null) => {
    const want = Buffer.from(csrfFor(uid));
    const got = Buffer.from(given ?? '');
    return got.length === want.length && timingSafeEqual(got, want);
  };

  const page = (res: ServerResponse, status: number, html: string) => {
    res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(`<!doctype html><html><body>${html}</body></html>`);
  };
  const form = (uid: string, step: 'login' | 'confirm', fields: string) =>
    `<form method="post" action="/interaction/${uid}/${step}"><input type="hidden" name="csrf" value="${csrfFor(uid)}">${fields}<button>Continue</button></form>`;
  const loginPage = (res: ServerResponse, uid: string, status = 200, error = '') =>
    page(res, status, `${error ? `<p>${escape(error)}</p>` : ''}${form(uid, 'login', '<input name="email"><input name="password" type="password">')}`);
  const seeOther = (res: ServerResponse, location: string) => {
    res.writeHead(303, { location });
    res.end();
  };
  const readForm = async (req: IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
  };

  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const [, , uid, step] = (req.url ?? '').split('?')[0].split('/');
    const details = await provider.interactionDetails(req, res);
    if (details.uid !== uid) return page(res, 400, 'interaction mismatch');
    if (req.method === 'GET' && step === undefined) {
      if (details.prompt.name === 'login') return loginPage(res, uid);
      return page(res, 200, form(uid, 'confirm', ''));
    }
    if (req.method !== 'POST') return page(res, 405, 'method not allowed');
    const fields = await readForm(req);
    if (!csrfOk(uid, fields.get('csrf'))) return page(res, 403, 'bad csrf');

    if (step === 'login' && details.prompt.name === 'login') {
      const person = people.get((fields.get('email') ?? '').trim().toLowerCase());
      const ok = person !== undefined && await argon2.verify(person.passwordHash, fields.get('password') ?? '').catch(() => false);
      if (!ok) return loginPage(res, uid, 401, 'The email or password is not correct.');
      return seeOther(res, await provider.interactionResult(req, res, { login: { accountId: person.accountId } }, { mergeWithLastSubmission: false }));
    }
    if (step === 'confirm' && details.prompt.name === 'consent') {
      const accountId = details.session!.accountId;
      const clientId = details.params.client_id as string;
      const grant = details.grantId ? (await provider.Grant.find(details.grantId))! : new provider.Grant({ accountId, clientId });
      const missing = details.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> };
      if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
      if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
      for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) grant.addResourceScope(indicator, scopes.join(' '));
      const grantId = await grant.save();
      return seeOther(res, await provider.interactionResult(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true }));
    }
    page(res, 400, 'unexpected step');
  };
}
