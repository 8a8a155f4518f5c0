import { createHmac, generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto'
import { createSigner } from 'fast-jwt'
import { JWT_BEARER_ASSERTION_TYPE } from '../../plugins/token-issuer/client-assertion.js'

// Clients registered by key (private_key_jwt) and the client assertions they sign.

export interface KeyPair {
  /** PKCS#8 PEM, as the SDK providers and fast-jwt take it. */
  privatePem: string
  /** SPKI PEM, as a client's `publicKey` setting takes it. */
  publicPem: string
  publicJwk: Record<string, unknown>
}

function pair (keys: { privateKey: KeyObject, publicKey: KeyObject }): KeyPair {
  return {
    privatePem: keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: keys.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    publicJwk: { ...keys.publicKey.export({ format: 'jwk' }) }
  }
}

export const ecKeys = (): KeyPair => pair(generateKeyPairSync('ec', { namedCurve: 'P-256' }))
export const rsaKeys = (bits = 2048): KeyPair => pair(generateKeyPairSync('rsa', { modulusLength: bits }))
export const edKeys = (): KeyPair => pair(generateKeyPairSync('ed25519'))

export const nowSeconds = (): number => Math.floor(Date.now() / 1000)

/** Claims as the MCP SDK's PrivateKeyJwtProvider sends them: iss = sub = client, aud, iat, exp = iat + 300, a fresh jti. */
export function assertionClaims (clientId: string, aud: unknown, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const iat = nowSeconds()
  return { iss: clientId, sub: clientId, aud, iat, exp: iat + 300, jti: randomUUID(), ...overrides }
}

/** A JWT signed with `privatePem` (claims exactly as given: nothing added). */
export function signAssertion (privatePem: string, claims: Record<string, unknown>, header: { algorithm?: 'ES256' | 'RS256' | 'PS256' | 'EdDSA', kid?: string } = {}): string {
  // fast-jwt keeps a given iat, and adds one unless noTimestamp (which also drops a given one).
  const sign = createSigner({ key: privatePem, algorithm: header.algorithm ?? 'ES256', noTimestamp: claims.iat === undefined, ...(header.kid === undefined ? {} : { kid: header.kid }) })
  return sign(claims)
}

const segment = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url')

/** An unsigned JWT (`alg: none`). */
export function unsignedAssertion (claims: Record<string, unknown>): string {
  return `${segment({ alg: 'none', typ: 'JWT' })}.${segment(claims)}.`
}

/** HS256 keyed with the client's PUBLIC key text: the algorithm-confusion forgery. */
export function hmacWithPublicKey (publicPem: string, claims: Record<string, unknown>): string {
  const input = `${segment({ alg: 'HS256', typ: 'JWT' })}.${segment(claims)}`
  return `${input}.${createHmac('sha256', publicPem).update(input).digest('base64url')}`
}

/** The token request form of a client authenticating with `assertion`. */
export function assertionForm (assertion: string, extra: Record<string, string> = {}): Record<string, string> {
  return { grant_type: 'client_credentials', client_assertion_type: JWT_BEARER_ASSERTION_TYPE, client_assertion: assertion, ...extra }
}
