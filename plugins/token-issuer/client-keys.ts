import { createPrivateKey, createPublicKey } from 'node:crypto'
import { algorithmsOf, pemOfJwk, PUBLIC_KEY_ALGORITHMS, type PublicKeyAlgorithm } from '../credentials/public-keys.js'

// The public keys a private_key_jwt client is registered with (a PEM `publicKey` or an inline
// `jwks`), read once: what the option schema checks and what verifies its assertions.

/** Most keys in one client's `jwks`: an assertion without `kid` is tried against each. */
export const MAX_CLIENT_KEYS = 10

export interface ClientKeyMaterial {
  publicKey?: string | undefined
  jwks?: { keys: ReadonlyArray<Readonly<Record<string, unknown>>> } | undefined
  algorithms?: readonly PublicKeyAlgorithm[] | undefined
}

export interface ClientKey {
  /** The JWK's `kid`; an assertion naming a kid is checked only with the keys that have it (or none). */
  kid: string | undefined
  /** SPKI PEM, as fast-jwt takes it. */
  pem: string
  /** The client's algorithms this key may verify (its type, curve and JWK `alg` allow them). */
  algorithms: PublicKeyAlgorithm[]
}

function isPublicKeyAlgorithm (value: unknown): value is PublicKeyAlgorithm {
  return PUBLIC_KEY_ALGORITHMS.some((algorithm) => algorithm === value)
}

const NOT_A_PUBLIC_KEY = 'expected a PEM public key (-----BEGIN PUBLIC KEY-----)'

/** Whether the PEM holds a private key (createPublicKey would quietly derive the public half from it). */
function isPrivate (pem: string): boolean {
  try {
    createPrivateKey(pem)
    return true
  } catch {
    return false
  }
}

/** The JWK form of each registered key (a PEM is exported as one), or what is wrong with it. */
function jwksOf (material: ClientKeyMaterial): Array<Readonly<Record<string, unknown>> | string> {
  if (material.jwks !== undefined) return [...material.jwks.keys]
  if (material.publicKey === undefined) return []
  if (isPrivate(material.publicKey)) return [`${NOT_A_PUBLIC_KEY}, not a private key: the client keeps its private key`]
  try {
    return [{ ...createPublicKey(material.publicKey).export({ format: 'jwk' }) }]
  } catch {
    return [NOT_A_PUBLIC_KEY]
  }
}

/** Without `algorithms`: each key's own `alg`, else RS256 for RSA keys, the curve's ES* or EdDSA. */
function defaultAlgorithms (jwks: ReadonlyArray<Readonly<Record<string, unknown>>>): PublicKeyAlgorithm[] {
  const chosen = jwks.flatMap((jwk) => {
    if (isPublicKeyAlgorithm(jwk.alg)) return [jwk.alg]
    const natural = algorithmsOf(jwk, PUBLIC_KEY_ALGORITHMS)
    return natural.includes('RS256') ? ['RS256' as const] : natural.filter(isPublicKeyAlgorithm)
  })
  return [...new Set(chosen)]
}

/** The client's keys, or the problems found (by key index) when one is not usable. */
export function clientKeysOf (material: ClientKeyMaterial): { keys: ClientKey[], algorithms: PublicKeyAlgorithm[] } | { problems: Array<{ index: number, message: string }> } {
  const entries = jwksOf(material)
  const problems = entries.flatMap((entry, index) => typeof entry === 'string' ? [{ index, message: entry }] : [])
  if (problems.length > 0) return { problems }
  const jwks = entries.filter((entry) => typeof entry !== 'string')
  const algorithms = material.algorithms === undefined ? defaultAlgorithms(jwks) : [...material.algorithms]
  const keys: ClientKey[] = []
  jwks.forEach((jwk, index) => {
    const usable = algorithmsOf(jwk, algorithms).filter(isPublicKeyAlgorithm)
    const pem = usable.length === 0 ? undefined : pemOfJwk(jwk)
    if (pem === undefined) {
      problems.push({ index, message: `not a public signing key usable with ${algorithms.join(', ') || 'any algorithm'} (RSA of at least 2048 bits, EC P-256/384/521 or Ed25519/Ed448; no private part; use "sig")` })
      return
    }
    keys.push({ kid: typeof jwk.kid === 'string' && jwk.kid !== '' ? jwk.kid : undefined, pem, algorithms: usable })
  })
  return problems.length > 0 ? { problems } : { keys, algorithms }
}
