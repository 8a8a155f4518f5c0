import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js'

/** Who a request acts for. Every strategy produces exactly this shape. */
export interface Principal {
  /** Stable identifier: the key id, token id, user name or JWT `sub`. */
  id: string
  /** The strategy that authenticated the request (`api-key`, `bearer`, `basic`, `jwt`, `none`). */
  strategy: string
  /** Granted permissions, for example `calculator:add`, `calculator:*` or `*`. */
  permissions: string[]
  /** When the credential stops being valid, in seconds since the epoch. */
  expiresAt?: number
  /** Verified token claims, for strategies that have them. */
  claims?: Record<string, unknown>
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the auth hook in `onRequest`; `null` on routes outside an auth scope. */
    principal: Principal | null
  }
}

/** A key that tells principals apart across strategies (two strategies may both know an `alice`). */
export function principalKey (principal: Principal): string {
  return `${principal.strategy}:${principal.id}`
}

/** The principal as the MCP SDK hands it to tools: `extra.authInfo`. */
export function toAuthInfo (principal: Principal): AuthInfo {
  const info: AuthInfo = {
    token: '',
    clientId: principal.id,
    scopes: principal.permissions,
    extra: { principal }
  }
  if (principal.expiresAt !== undefined) info.expiresAt = principal.expiresAt
  return info
}
