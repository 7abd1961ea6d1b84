/**
 * The federation file (`VIGIL_FEDERATION_FILE`, JSON `{ "providers": [...] }`): read and validated
 * at start (a bad file stops start-up naming the setting, the file and the problem) and again on
 * SIGHUP (a bad file is refused and the running providers stay).
 */
import { z } from 'zod';
import { ConfigError, readSettingFile } from '../config/index.ts';
import type { KeyRing } from '../crypto/index.ts';
import { commonFields, type ProviderConfig } from './provider-config.ts';
import { SOURCE_KINDS } from './kinds.ts';
import { openFederationSecret } from './sealed-secret.ts';

export type { ProviderConfig } from './provider-config.ts';

function fileSchema() {
  const kinds = Object.entries(SOURCE_KINDS).map(([kind, k]) => {
    const schema = z.strictObject({ ...commonFields, kind: z.literal(kind), ...k.fields });
    return k.refine ? schema.superRefine(k.refine as (provider: unknown, ctx: z.RefinementCtx) => void) : schema;
  });
  const provider = z.discriminatedUnion('kind', kinds as unknown as [z.ZodObject, ...z.ZodObject[]], {
    error: `kind must be one of ${Object.keys(SOURCE_KINDS).map((k) => `"${k}"`).join(', ')}`,
  });
  return z.strictObject({ providers: z.array(provider).max(100) }).superRefine((file, ctx) => {
    const ids = new Set<string>();
    const domains = new Map<string, string>();
    file.providers.forEach((raw, index) => {
      const p = raw as unknown as ProviderConfig;
      if (ids.has(p.id)) ctx.addIssue({ code: 'custom', path: ['providers', index, 'id'], message: `${p.id} is listed twice` });
      ids.add(p.id);
      for (const domain of p.domains) {
        const other = domains.get(domain);
        if (other !== undefined) ctx.addIssue({ code: 'custom', path: ['providers', index, 'domains'], message: `${domain} is routed to ${other} already: a domain belongs to one provider` });
        domains.set(domain, p.id);
      }
    });
  });
}

export interface FederationFile {
  providers: ProviderConfig[];
  /** The opened secrets, by provider id and field: kept in memory only. */
  secrets: Map<string, Map<string, string>>;
}

/**
 * Reads the file named by VIGIL_FEDERATION_FILE; no providers when `path` is undefined. Without
 * `keys` (before the master key is open) the file is validated but its secrets are not opened.
 */
export function loadFederationFile(path: string | undefined, keys?: KeyRing): FederationFile {
  if (path === undefined) return { providers: [], secrets: new Map() };
  const { json, fail } = readSettingFile('VIGIL_FEDERATION_FILE', path);
  return parseFederationFile(json, keys, fail);
}

/** Validates a parsed federation file (the loader's second half, for tests and the CLI). */
export function parseFederationFile(json: unknown, keys: KeyRing | undefined, fail: (problem: string) => Error = (p) => new ConfigError(p)): FederationFile {
  const result = fileSchema().safeParse(json);
  if (!result.success) {
    throw fail(result.error.issues.map((i) => `${describePath(i.path, json)}: ${i.message}`).join('; '));
  }
  const providers = result.data.providers as unknown as ProviderConfig[];
  const secrets = new Map<string, Map<string, string>>();
  for (const provider of providers) {
    const opened = new Map<string, string>();
    for (const field of SOURCE_KINDS[provider.kind].secrets) {
      const sealed = provider[field];
      if (typeof sealed !== 'string' || !keys) continue;
      try {
        opened.set(field, openFederationSecret(keys, provider.id, field, sealed));
      } catch (err) {
        throw fail(`providers.${provider.id}.${(err as Error).message}`);
      }
    }
    secrets.set(provider.id, opened);
  }
  return { providers, secrets };
}

/** `providers.<id>.field` where the provider has an id, `providers.<index>.field` where it has none. */
function describePath(path: readonly PropertyKey[], json: unknown): string {
  if (path[0] === 'providers' && typeof path[1] === 'number') {
    const id = (json as { providers?: { id?: unknown }[] })?.providers?.[path[1]]?.id;
    const named = typeof id === 'string' && id.length <= 64 ? id : String(path[1]);
    return ['providers', named, ...path.slice(2).map(String)].join('.');
  }
  return path.map(String).join('.') || '(file)';
}
