import { STATUS_CODES } from 'node:http'
import createError from '@fastify/error'

export const MCP_AUTH_MISSING_CREDENTIALS = createError('MCP_AUTH_MISSING_CREDENTIALS', 'missing credentials', 401)
export const MCP_AUTH_INVALID_CREDENTIALS = createError('MCP_AUTH_INVALID_CREDENTIALS', 'invalid credentials', 401)
export const MCP_AUTH_TOKEN_EXPIRED = createError('MCP_AUTH_TOKEN_EXPIRED', 'token expired', 401)
export const MCP_AUTH_TOKEN_REVOKED = createError('MCP_AUTH_TOKEN_REVOKED', 'token revoked', 401)
export const MCP_AUTH_RATE_LIMITED = createError<[string]>('MCP_AUTH_RATE_LIMITED', 'rate limit exceeded: %s', 429)
export const MCP_AUTH_RATE_LIMIT_UNAVAILABLE = createError('MCP_AUTH_RATE_LIMIT_UNAVAILABLE', 'rate-limit store unreachable, try again shortly', 503)
export const MCP_AUTH_INVALID_OPTION = createError<[string, string]>('MCP_AUTH_INVALID_OPTION', '%s: invalid option %s')
export const MCP_AUTH_NOT_LOOPBACK = createError('MCP_AUTH_NOT_LOOPBACK', 'authentication is off here (strategy none): only connections from this machine are served', 403)
export const MCP_AUTH_AMBIGUOUS_CREDENTIALS = createError<[string]>('MCP_AUTH_AMBIGUOUS_CREDENTIALS', 'ambiguous credentials: the %s header was sent more than once', 400)
export const MCP_AUTH_HOST_NOT_ALLOWED = createError('MCP_AUTH_HOST_NOT_ALLOWED', 'Host header not allowed', 403)
export const MCP_AUTH_ORIGIN_NOT_ALLOWED = createError('MCP_AUTH_ORIGIN_NOT_ALLOWED', 'Origin not allowed', 403)
export const MCP_AUTH_BUSY = createError('MCP_AUTH_BUSY', 'too many password checks in progress, retry shortly', 503)
export const MCP_AUTH_STORE_UNAVAILABLE = createError('MCP_AUTH_STORE_UNAVAILABLE', 'token store unreachable, try again shortly', 503)
export const MCP_AUTH_INTROSPECTION_UNAVAILABLE = createError('MCP_AUTH_INTROSPECTION_UNAVAILABLE', 'authorization server unavailable, try again shortly', 503)
export const MCP_AUTH_NOT_FOUND = createError<[string]>('MCP_AUTH_NOT_FOUND', '%s', 404)
export const MCP_AUTH_INTERNAL = createError('MCP_AUTH_INTERNAL', 'internal error', 500)

/** Refused by the failed-authentication limits: 429 with Retry-After. */
export class FailedAuthThrottled extends MCP_AUTH_RATE_LIMITED {
  readonly retryAfter: number

  constructor (retryAfter: number) {
    super(`too many failed authentications, retry in ${retryAfter} s`)
    this.retryAfter = retryAfter
  }
}

/** An OAuth error (RFC 6749 §5.2), answered in the OAuth shape by the token and revocation endpoints. */
export class OAuthError extends Error {
  // `error` is RFC 6749's name for the error code, not a callback's error argument.
  // eslint-disable-next-line n/handle-callback-err
  constructor (readonly error: string, readonly description: string, readonly status = 400) {
    super(description)
  }
}

/** The JSON body of every HTTP error this project answers with (Fastify's shape). */
export function errorBody (error: { statusCode?: number | undefined, code?: string | undefined, message: string }): { statusCode: number, code: string | undefined, error: string, message: string } {
  const statusCode = error.statusCode ?? 500
  return { statusCode, code: error.code, error: STATUS_CODES[statusCode] ?? 'Error', message: error.message }
}

/**
 * Why the jwt strategy refused a token, in its debug log line (next to fast-jwt's own codes such as
 * FAST_JWT_EXPIRED); the client only ever sees "invalid credentials" or "token expired".
 */
export const JwtRefusal = {
  /** With several issuers: the token's `iss` names none of them (no key is looked up). */
  UnknownIssuer: 'MCP_AUTH_UNKNOWN_ISSUER',
  /** No configured or published key matches the token's kid and alg. */
  NoKey: 'MCP_AUTH_NO_KEY',
  /** A claim the strategy reads has the wrong type (never coerced). */
  ClaimType: 'MCP_AUTH_CLAIM_TYPE',
  /** `iat` in the future while maxAge is set. */
  IatFuture: 'MCP_AUTH_IAT_FUTURE',
  /** RFC 8705: the token is bound to a client certificate (`cnf`) the request did not present. */
  CertificateMismatch: 'MCP_AUTH_CERTIFICATE_MISMATCH'
} as const
