import { z } from 'zod'
import { SecretSet, sha256 } from '../credentials/compare.js'
import { frozenPrincipal, type Principal } from '../../core/principal.js'

// What the api-key and bearer strategies share: secrets given in clear or as a SHA-256 digest,
// each entry naming a principal, matched in constant time.

export function sha256Field (what: string): z.ZodOptional<z.ZodString> {
  return z.string().regex(/^[0-9a-fA-F]{64}$/, `expected 64 hex digits (the SHA-256 of the ${what})`).optional()
}

export function uniqueIds (entries: ReadonlyArray<{ id: string }>): boolean {
  return new Set(entries.map((entry) => entry.id)).size === entries.length
}

export interface StaticSecret {
  id: string
  /** The secret in clear, or … */
  secret?: string | undefined
  /** … its SHA-256 in hex. */
  sha256?: string | undefined
  permissions: readonly string[]
}

/** A constant-time lookup from a presented secret to the (shared, frozen) principal it belongs to. */
export function principalSecrets (strategy: string, entries: readonly StaticSecret[]): SecretSet<Principal> {
  return new SecretSet(entries.map((entry) => ({
    digest: entry.sha256 !== undefined ? Buffer.from(entry.sha256, 'hex') : sha256(entry.secret ?? ''),
    value: frozenPrincipal({ id: entry.id, strategy, permissions: [...entry.permissions] })
  })))
}
