/** The fields of an upstream OpenID Connect provider in the federation file (`kind: "oidc"`). */
import { z } from 'zod';
import { httpsUrl } from '../../http/https-url.ts';
import { sealedSecret } from '../sealed-secret.ts';

const claimName = z.string().min(1).max(100);

export const oidcFields = {
  /** The upstream's issuer: discovery at `<issuer>/.well-known/openid-configuration`. */
  issuer: httpsUrl('issuer'),
  client_id: z.string().min(1).max(512),
  /** Sealed (`vigil federation seal <id> client_secret`); absent for a public client (PKCE only). */
  client_secret: sealedSecret.optional(),
  scopes: z.array(z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/, 'must be a scope token')).max(20).default(['openid', 'email', 'profile']),
  /** Which claims of the ID token carry the email, the name and the groups. */
  claims: z.strictObject({ email: claimName.default('email'), name: claimName.default('name'), groups: claimName.default('groups') })
    .default({ email: 'email', name: 'name', groups: 'groups' }),
  /** Extra authorization request parameters (e.g. `{ "prompt": "select_account" }`, `acr_values`). */
  authorization_params: z.record(z.string().regex(/^[a-z_]{1,40}$/), z.string().max(500))
    .refine((p) => !['state', 'nonce', 'code_challenge', 'code_challenge_method', 'redirect_uri', 'client_id', 'response_type', 'scope'].some((k) => k in p), 'may not set the protocol parameters Vigil sets itself')
    .optional(),
};

export const OIDC_SECRETS = ['client_secret'] as const;
