/**
 * `vigil federation seal|test|list`: run in the CLI's own process (they need the master key and
 * the federation file, not the database).
 */
import { text } from 'node:stream/consumers';
import type { Config } from '../config/index.ts';
import { KeyRing, loadMasterKey } from '../crypto/index.ts';
import { FederationError, FederationRegistry, loadFederationFile, sealFederationSecret, SOURCE_KINDS } from '../federation/index.ts';
import { outgoingFetch } from '../http/index.ts';
import { UsageError } from './args.ts';
import type { Reply } from './run.ts';

export const FEDERATION_COMMANDS = ['federation seal', 'federation test', 'federation list'];

function words(argv: string[], count: number, usage: string): { operands: string[]; json: boolean } {
  const json = argv.includes('--json');
  const operands = argv.filter((a) => a !== '--json');
  const flag = operands.find((a) => a.startsWith('-'));
  if (flag) throw new UsageError(`unknown option ${flag}`);
  if (operands.length !== count) throw new UsageError(`usage: vigil ${usage}`);
  return { operands, json };
}

function registryOf(config: Config, keys: KeyRing): FederationRegistry {
  if (!config.VIGIL_FEDERATION_FILE) throw new UsageError('VIGIL_FEDERATION_FILE is not set: no providers are configured');
  const timeoutMs = config.VIGIL_FEDERATION_TIMEOUT_SECONDS * 1000;
  return new FederationRegistry(loadFederationFile(config.VIGIL_FEDERATION_FILE, keys), {
    issuer: config.ISSUER, timeoutMs, fetch: outgoingFetch({ allowedHosts: config.VIGIL_ALLOWED_OUTGOING_HOSTS, timeoutMs }),
  });
}

const out = (json: boolean, data: unknown, textOut: string, exitCode = 0): Reply => ({ exitCode, stdout: `${json ? JSON.stringify(data) : textOut}\n`, stderr: '' });

export async function federationCommand(name: string, argv: string[], config: Config, stdin: NodeJS.ReadableStream): Promise<Reply> {
  const keys = new KeyRing(loadMasterKey(config).key);
  if (name === 'federation seal') {
    const { operands: [id, field], json } = words(argv, 2, 'federation seal <provider-id> <field>   (the secret on standard input)');
    if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(id)) throw new UsageError('the provider id must be a slug (a-z, 0-9, -)');
    const fields = new Set(Object.values(SOURCE_KINDS).flatMap((k) => k.secrets));
    if (!fields.has(field)) throw new UsageError(`${field} is not a secret field (secret fields: ${[...fields].join(', ')})`);
    const secret = (await text(stdin)).replace(/\r?\n$/, '');
    if (secret.length === 0) throw new UsageError('give the secret on standard input');
    const sealed = sealFederationSecret(keys, id, field, secret);
    return out(json, { provider: id, field, sealed }, sealed);
  }
  const registry = registryOf(config, keys);
  if (name === 'federation list') {
    words(argv, 0, 'federation list');
    const rows = registry.list().map((p) => ({ id: p.config.id, kind: p.config.kind, name: p.config.display_name, domains: p.config.domains, provisioning: p.config.provisioning.allowed }));
    return out(argv.includes('--json'), rows, rows.map((r) => `${r.id}\t${r.kind}\t${r.domains.join(',') || '-'}\t${r.provisioning ? 'jit' : 'no-jit'}\t${r.name}`).join('\n') || '(no providers)');
  }
  const { operands: [id], json } = words(argv, 1, 'federation test <provider-id>');
  const provider = registry.provider(id);
  if (!provider) throw new UsageError(`no provider ${id} in ${config.VIGIL_FEDERATION_FILE}`);
  try {
    const found = await provider.source.check();
    return out(json, { provider: id, ok: true, found }, `${id}: ok: ${found}`);
  } catch (err) {
    const e = err instanceof FederationError ? err : new FederationError('unreachable', (err as Error).message, true);
    return { exitCode: 1, stdout: json ? `${JSON.stringify({ provider: id, ok: false, code: e.code, error: e.message })}\n` : '', stderr: `vigil: ${id}: ${e.code}: ${e.message}\n` };
  }
}
