import { createPublicKey, type KeyObject } from 'node:crypto'

// Public keys that verify JWT signatures, and the algorithms each may verify: shared by the jwt
// strategy (configured keys, an identity provider's JWKS) and the token endpoint's client keys
// (private_key_jwt), which sit in different layers.

export const HMAC_ALGORITHMS = ['HS256', 'HS384', 'HS512'] as const
export const PUBLIC_KEY_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const
export type PublicKeyAlgorithm = typeof PUBLIC_KEY_ALGORITHMS[number]
export type JwtAlgorithm = typeof HMAC_ALGORITHMS[number] | PublicKeyAlgorithm

/** As RFC 7518 §3.3 requires; shorter RSA keys are never used. */
export const MIN_RSA_BITS = 2048
const RSA_ALGORITHMS: readonly JwtAlgorithm[] = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512']
const CURVE_ALGORITHMS: Readonly<Record<string, Readonly<Record<string, readonly JwtAlgorithm[]>>>> = {
  EC: { 'P-256': ['ES256'], 'P-384': ['ES384'], 'P-521': ['ES512'] },
  OKP: { Ed25519: ['EdDSA'], Ed448: ['EdDSA'] }
}

/**
 * What a published key may verify: its own `alg` when it names one, otherwise what its type and
 * curve allow; in both cases only among the configured algorithms. Symmetric (`oct`) keys,
 * encryption keys and keys that publish private material are never used.
 */
export function algorithmsOf (jwk: Readonly<Record<string, unknown>>, configured: readonly JwtAlgorithm[]): JwtAlgorithm[] {
  if ((jwk.use !== undefined && jwk.use !== 'sig') || 'd' in jwk) return []
  if (jwk.key_ops !== undefined && !(Array.isArray(jwk.key_ops) && jwk.key_ops.includes('verify'))) return []
  const byType = jwk.kty === 'RSA'
    ? RSA_ALGORITHMS
    : typeof jwk.kty === 'string' && typeof jwk.crv === 'string' ? CURVE_ALGORITHMS[jwk.kty]?.[jwk.crv] ?? [] : []
  const allowed = jwk.alg === undefined ? byType : byType.filter((algorithm) => algorithm === jwk.alg)
  return allowed.filter((algorithm) => configured.includes(algorithm))
}

/** The PEM (SPKI) of a public key, or undefined for an RSA key shorter than MIN_RSA_BITS. */
export function usablePem (publicKey: KeyObject): string | undefined {
  if ((publicKey.asymmetricKeyDetails?.modulusLength ?? MIN_RSA_BITS) < MIN_RSA_BITS) return undefined
  return publicKey.export({ type: 'spki', format: 'pem' }).toString()
}

/** The PEM of a JWK's public key (fast-jwt verifies with PEM, not JWK), or undefined when it is not one to use. */
export function pemOfJwk (jwk: Readonly<Record<string, unknown>>): string | undefined {
  try {
    return usablePem(createPublicKey({ key: { ...jwk }, format: 'jwk' }))
  } catch {
    return undefined
  }
}
