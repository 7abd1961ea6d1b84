/**
 * Secrets in the federation file are sealed with Vigil's master key, bound to the provider and
 * field (`federation:<provider id>:<field>`), so a sealed value cannot be moved to another field.
 */
import { z } from 'zod';
import type { KeyRing } from '../crypto/index.ts';

const SEALED = /^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+$/;

export const sealedSecret = z.string().max(8192).regex(SEALED, 'must be a sealed value (`vigil federation seal <provider-id> <field>`), never the secret itself');

export function secretAssociatedData(providerId: string, field: string): string {
  return `federation:${providerId}:${field}`;
}

export function sealFederationSecret(keys: KeyRing, providerId: string, field: string, secret: string): string {
  return keys.seal(secret, secretAssociatedData(providerId, field));
}

/** The secret, or an Error naming the field when the value was sealed for something else or with another key. */
export function openFederationSecret(keys: KeyRing, providerId: string, field: string, sealed: string): string {
  try {
    return keys.open(sealed, secretAssociatedData(providerId, field));
  } catch {
    throw new Error(`${field}: the sealed value does not open with this master key for provider ${providerId} (seal it with \`vigil federation seal ${providerId} ${field}\`)`);
  }
}
