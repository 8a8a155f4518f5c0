import type { FastifyRequest } from 'fastify'
import type { Principal } from './principal.js'

export type FailureReason = 'missing_credentials' | 'invalid_credentials' | 'token_expired'

export type AuthOutcome =
  | { ok: true, principal: Principal }
  | { ok: false, reason: FailureReason }

/** What every strategy implements; the strategy plugins only wrap it in an `onRequest` hook. */
export interface Authenticator {
  readonly strategy: string
  authenticate (request: FastifyRequest): AuthOutcome | Promise<AuthOutcome>
  /** The `WWW-Authenticate` challenge this strategy answers a failure with. */
  challenge (reason: FailureReason): string
}

export const missing: AuthOutcome = Object.freeze({ ok: false, reason: 'missing_credentials' })
export const invalid: AuthOutcome = Object.freeze({ ok: false, reason: 'invalid_credentials' })

export function accepted (principal: Principal): AuthOutcome {
  return { ok: true, principal }
}

/** Quotes a value for an auth-param (RFC 9110 quoted-string). */
export function quote (value: string): string {
  return `"${value.replace(/["\\]/g, '\\$&')}"`
}
