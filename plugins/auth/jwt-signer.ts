import { randomUUID } from 'node:crypto'
import { createDecoder, createSigner, createVerifier } from 'fast-jwt'
import { isHmac, jwtOptionsSchema, signingIssuer, verificationKeys, type JwtOptions, type ParsedJwtOptions } from './jwt-options.js'
import { MCP_AUTH_INVALID_OPTION } from '../../core/errors.js'
import { parseOptions } from '../../core/options.js'
import type { IssuedClaims, SignedToken, TokenClaims, TokenSigning } from '../../core/signing.js'

export type { SignedToken, TokenClaims } from '../../core/signing.js'

/**
 * Signs access tokens with the deployment's own key: the first key that has signing material
 * (an HMAC secret, or a private key next to a public key). Used by the `token` command and the
 * token endpoint; never reachable without authentication.
 */
export function createTokenSigner (options: JwtOptions): (claims: TokenClaims) => SignedToken {
  return signerFor(signingIssuer(parseOptions('jwt', jwtOptionsSchema, options)))
}

function signerFor (parsed: ParsedJwtOptions): (claims: TokenClaims) => SignedToken {
  const signing = verificationKeys(parsed).find((key) => key.signingKey !== undefined)
  if (signing?.signingKey === undefined) {
    throw new MCP_AUTH_INVALID_OPTION('jwt', 'privateKey: this deployment only verifies tokens; give privateKey (or an HMAC secret) to sign')
  }
  const algorithm = parsed.algorithms.find((alg) => isHmac(alg) === parsed.algorithms.every(isHmac)) ?? parsed.algorithms[0]
  const audience = parsed.audience
  // iat and exp are set in the payload, from one clock reading; the signer keeps a given iat.
  const sign = createSigner({
    key: signing.signingKey,
    algorithm,
    ...(signing.kid === undefined ? {} : { kid: signing.kid })
  })
  return ({ sub, permissions, ttl, extra }) => {
    const jti = randomUUID()
    const now = Math.floor(Date.now() / 1000)
    const expiresAt = now + Math.max(1, Math.round(ttl / 1000))
    const token = sign({
      ...extra,
      sub,
      permissions,
      jti,
      iat: now,
      exp: expiresAt,
      ...(parsed.issuer === undefined ? {} : { iss: parsed.issuer }),
      ...(audience === undefined ? {} : { aud: audience })
    })
    return { token, jti, expiresAt }
  }
}

/**
 * Verifies a token this deployment signed (signature, algorithm, issuer; not expiry), for the
 * revocation endpoint: only tokens we issued can be revoked here. Undefined when it is not one.
 * Every configured key verifies (picked by the token's `kid` when the keys have kids), so a token
 * signed before a rotation can be revoked for as long as its key is still configured.
 */
export function createOwnTokenVerifier (options: JwtOptions): (token: string) => Record<string, unknown> | undefined {
  return ownTokenVerifier(signingIssuer(parseOptions('jwt', jwtOptionsSchema, options)))
}

function ownTokenVerifier (parsed: ParsedJwtOptions): (token: string) => Record<string, unknown> | undefined {
  const keys = verificationKeys(parsed)
  if (!keys.some((key) => key.signingKey !== undefined)) return () => undefined
  const verifiers = new Map(keys.map((key) => [key.kid, createVerifier({
    key: key.key,
    algorithms: parsed.algorithms,
    ignoreExpiration: true,
    ...(parsed.issuer === undefined ? {} : { allowedIss: parsed.issuer, requiredClaims: ['iss'] })
  })]))
  const byKid = parsed.keys !== undefined
  const decodeHeader = createDecoder({ complete: true })
  return (token) => {
    try {
      const kid: unknown = byKid ? decodeHeader(token).header.kid : undefined
      const verify = verifiers.get(typeof kid === 'string' ? kid : undefined)
      return verify === undefined ? undefined : verify(token)
    } catch {
      return undefined
    }
  }
}

/**
 * The jwt strategy's keys as the token issuer uses them: signs with the configured audience, or
 * with another one the token endpoint chose (RFC 8707), a signer per audience made on first use
 * (audiences come from the config: see `audiences`).
 */
export function createTokenSigning (options: JwtOptions): TokenSigning {
  const parsed = signingIssuer(parseOptions('jwt', jwtOptionsSchema, options))
  const signers = new Map<string | undefined, (claims: TokenClaims) => SignedToken>([[undefined, signerFor(parsed)]])
  return {
    sign: ({ audience, ...claims }: IssuedClaims) => {
      let sign = signers.get(audience)
      if (sign === undefined) {
        sign = signerFor({ ...parsed, audience })
        signers.set(audience, sign)
      }
      return sign(claims)
    },
    verifyOwnToken: ownTokenVerifier(parsed),
    issuer: parsed.issuer,
    audiences: parsed.audience === undefined ? [] : [parsed.audience].flat()
  }
}
