import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Principal } from './principal.js'

export { quote } from './challenges.js'

export type FailureReason = 'missing_credentials' | 'invalid_credentials' | 'token_expired' | 'token_revoked'

export type AuthOutcome =
  | { ok: true, principal: Principal }
  /** `detail`: why, more precisely than `reason` (`wrong_audience`, `inactive`, …), for the audit line only; never sent to the client. */
  | { ok: false, reason: FailureReason, detail?: string }

/**
 * What the auth hook offers a strategy during one attempt. A check that costs real work (a
 * password hash) calls `beforeCostlyCheck` first, naming the account: the attempt is counted for
 * the client address and the account, and refused (429) when either is over its failed-auth limit,
 * before any work is done. Cheap checks (keys, tokens, signatures, cached passwords) never call it.
 */
export interface AuthAttempt {
  beforeCostlyCheck: (account: string) => Promise<void>
}

/**
 * How a strategy's 401 challenge is spelled. `oauth-bearer` clients speak OAuth bearer semantics (RFC
 * 6750): a 403 `insufficient_scope` challenge tells them to step up; others get a JSON-RPC error.
 */
export type ChallengeFamily = 'oauth-bearer' | 'http-basic' | 'custom'

/** What every strategy implements; the strategy plugins only wrap it in an `onRequest` hook. */
export interface Authenticator {
  readonly strategy: string
  /** Default `custom`. */
  readonly challengeFamily?: ChallengeFamily
  authenticate (request: FastifyRequest, reply: FastifyReply, attempt?: AuthAttempt): AuthOutcome | Promise<AuthOutcome>
  /** The `WWW-Authenticate` challenge this strategy answers a failure with. */
  challenge (reason: FailureReason, request: FastifyRequest): string
  /**
   * Request headers (lower case) that carry this strategy's credential, besides `Authorization`:
   * sent more than once, the request is refused as ambiguous (400) before any check.
   */
  readonly credentialHeaders?: readonly string[]
}

/** What a strategy may need to know about the deployment beyond its own options. */
export interface DeploymentContext {
  /** The RFC 9728 protected resource metadata URL for a request, when the deployment publishes one. */
  resourceMetadataUrl?: ((request: FastifyRequest) => string | undefined) | undefined
  /** The scopes a 401 challenge names for a request: those the operation it asks for needs (none: no `scope=`). */
  challengeScopes?: ((request: FastifyRequest) => readonly string[]) | undefined
  /** Whether a verified token has been revoked (throws when that cannot be known: fail closed). */
  isRevoked?: ((claims: Readonly<Record<string, unknown>>) => Promise<boolean>) | undefined
}

/**
 * Builds a strategy's authenticator inside the plugin that uses it. `fastify` is that plugin's
 * instance, for strategies built on a Fastify plugin of their own (bearer, basic, jwt).
 */
export type AuthenticatorFactory<O> = (fastify: FastifyInstance, options: O, context?: DeploymentContext) => Authenticator | Promise<Authenticator>

export const missing: AuthOutcome = Object.freeze({ ok: false, reason: 'missing_credentials' })
export const invalid: AuthOutcome = Object.freeze({ ok: false, reason: 'invalid_credentials' })

export function accepted (principal: Principal): AuthOutcome {
  return { ok: true, principal }
}

/**
 * The failed-authentication limits the hook applies:
 * - `beforeCostlyCheck`: a password check is counted before it runs, for the client address and
 *   the account it names, and refused (throws FailedAuthThrottled) when either is over its limit;
 * - `recordFailure`: a cheap check that failed is counted for the address; it answers the seconds
 *   to wait when the address is now over its limit.
 */
export interface FailedAuthThrottle {
  beforeCostlyCheck: (request: FastifyRequest, account: string) => Promise<void>
  recordFailure: (request: FastifyRequest) => Promise<number | undefined>
}

/**
 * The instance decorator an open-access strategy (no authentication) sets on its scope, so that
 * the MCP routes can refuse every web page's Origin unless one is configured.
 */
export const OPEN_ACCESS = 'mcpAuthOpenAccess'
