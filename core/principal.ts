import type { AuthInfo } from '@modelcontextprotocol/server'
import type { ChallengeFamily } from './authenticator.js'

/** Who a request acts for. Every strategy produces exactly this shape; it is never mutated. */
export interface Principal {
  /** Stable identifier: the key id, token id, user name or JWT `sub`. */
  readonly id: string
  /** The strategy that authenticated the request: its name in the registry (`api-key`, `jwt`, …) or an embedder's own. */
  readonly strategy: string
  /** Granted permissions, for example `calculator:add`, `calculator:*` or `*`. */
  readonly permissions: readonly string[]
  /** When the credential stops being valid, in seconds since the epoch. */
  readonly expiresAt?: number
  /** Verified token claims, for strategies that have them. */
  readonly claims?: Readonly<Record<string, unknown>>
}

/** Freezes a principal (and its permission list) so strategies can hand out one shared object. */
export function frozenPrincipal (principal: Principal): Principal {
  Object.freeze(principal.permissions)
  return Object.freeze(principal)
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the auth hook in `onRequest`; `null` on routes outside an auth scope. */
    principal: Principal | null
    /** How the strategy that accepted the request challenges (set with `principal`). */
    challengeFamily: ChallengeFamily | null
  }
}

/** A key that tells principals apart across strategies (two strategies may both know an `alice`). */
export function principalKey (principal: Principal): string {
  return `${principal.strategy}:${principal.id}`
}

const authInfos = new WeakMap<Principal, AuthInfo>()

/**
 * The principal as the MCP SDK hands it to tools: `extra.authInfo`. The credential itself is never
 * passed on (`token` is empty). Built once per principal object: static strategies share theirs.
 */
export function toAuthInfo (principal: Principal): AuthInfo {
  let info = authInfos.get(principal)
  if (info === undefined) {
    info = { token: '', clientId: principal.id, scopes: [...principal.permissions], extra: { principal } }
    if (principal.expiresAt !== undefined) info.expiresAt = principal.expiresAt
    authInfos.set(principal, Object.freeze(info))
  }
  return info
}
