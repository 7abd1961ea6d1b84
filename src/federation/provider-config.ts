/** The fields every provider in the federation file has, whatever its kind. */
import { z } from 'zod';
import { ACR_VALUES, type AcrValue } from '../config/index.ts';
import { roleSchema } from '../identity/index.ts';

const domain = z.string().max(253).regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, 'must be a lower-case email domain such as example.com');

export const commonFields = {
  id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be a slug (a-z, 0-9, -)'),
  display_name: z.string().min(1).max(100),
  /** Email domains whose people sign in here (home realm discovery). */
  domains: z.array(domain).max(200).default([]),
  /** A button on the sign-in page (the kind's default when absent). */
  button: z.boolean().optional(),
  /** Just-in-time accounts for people signing in here for the first time. */
  provisioning: z.strictObject({ allowed: z.boolean(), default_roles: z.array(roleSchema).max(50).default([]) })
    .default({ allowed: false, default_roles: [] }),
  /** Upstream group → Vigil roles, applied at every sign-in to the accounts this provider provisioned. */
  group_roles: z.record(z.string().min(1).max(256), z.array(roleSchema).max(50)).default({}),
  /** SAML/LDAP: the provider vouches for the email addresses it sends (OIDC says so per token: `email_verified`). */
  trust_email_verified: z.boolean().default(false),
  /** Upstream acr/amr value → the Vigil acr it earns. Absent: the upstream's sign-in counts as one factor. */
  trusted_acr: z.record(z.string().min(1).max(256), z.enum(ACR_VALUES as [AcrValue, ...AcrValue[]])).optional(),
};

const commonSchema = z.object(commonFields);

/** A provider as the file gives it (snake_case, like the file); the kind's own fields ride along. */
export type ProviderConfig = z.infer<typeof commonSchema> & { kind: string; [field: string]: unknown };
