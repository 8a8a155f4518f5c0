// What the token issuer needs from whatever signs its access tokens (a strategy's keys).

export interface TokenClaims {
  sub: string
  permissions: string[]
  /** Lifetime in milliseconds. */
  ttl: number
  /** Extra claims (they cannot override sub, exp, iat, jti, iss, aud). */
  extra?: Record<string, unknown>
}

export interface SignedToken {
  token: string
  jti: string
  expiresAt: number
}

/** Claims to sign, and the audience (RFC 8707 resource) when it is not the deployment's default one. */
export type IssuedClaims = TokenClaims & { audience?: string | undefined }

/** What a strategy that signs its own tokens offers the token issuer. */
export interface TokenSigning {
  /** Signs an access token; a signer per audience is made on first use. */
  sign: (claims: IssuedClaims) => SignedToken
  /** The claims of a token this deployment signed (not checking expiry), else undefined. */
  verifyOwnToken: (token: string) => Record<string, unknown> | undefined
  /** The `iss` of the tokens, published as RFC 8414 metadata. */
  issuer: string | undefined
  /** The audiences the verifier accepts (RFC 8707 `resource` values may name one). */
  audiences: readonly string[]
}
