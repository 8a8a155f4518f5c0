import type { FastifyRequest } from 'fastify'
import type { AuthEvent, SessionEvent, ToolEvent } from './audit.js'

/** Printable ASCII without `"` and `\`: written between quotes as it is. Anything else goes through JSON.stringify. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/

function text (value: string): string {
  return PLAIN.test(value) ? `"${value}"` : JSON.stringify(value)
}

function optional (name: string, value: string | undefined): string {
  return value === undefined ? '' : `,"${name}":${text(value)}`
}

/** The fields every event ends with: who sent the request, and the message. */
function tail (request: FastifyRequest, msg: string): string {
  const userAgent = request.headers['user-agent']
  return `,"ip":${text(request.ip)},"reqId":${text(String(request.id))}${optional('userAgent', typeof userAgent === 'string' ? userAgent : undefined)},"msg":"${msg}"}\n`
}

function head (event: string): string {
  return `{"level":30,"time":${Date.now()},"event":"${event}"`
}

const AUTH_MESSAGES = { success: 'authenticated', failure: 'authentication failed', throttled: 'authentication throttled' } satisfies Record<AuthEvent['outcome'], string>

export const SESSION_MESSAGES = {
  logout: { success: 'signed out', failure: 'sign-out refused' },
  silent_authorization: { success: 'authorized without a page', failure: 'authorization without a page refused' }
} satisfies Record<SessionEvent['action'], Record<SessionEvent['outcome'], string>>

/**
 * Audit events as JSON lines, built field by field in a fixed order: the same line pino would
 * write for the event (level, time, the event's fields, ip, reqId, userAgent, msg), for a fraction
 * of its cost. Every value is a string from a fixed set, a number, or escaped by JSON.stringify.
 */
export const auditLine = {
  auth (request: FastifyRequest, event: AuthEvent): string {
    return head('auth') + `,"strategy":${text(event.strategy)},"outcome":"${event.outcome}"` +
      optional('reason', event.reason) + optional('detail', event.detail) + optional('principal', event.principal) + optional('permission', event.permission) +
      tail(request, AUTH_MESSAGES[event.outcome])
  },
  tool (request: FastifyRequest, event: ToolEvent): string {
    return head('tool') + `,"tool":${text(event.tool)},"principal":${text(event.principal)},"strategy":${text(event.strategy)},"outcome":"${event.outcome}"` +
      optional('era', event.era) + `,"durationMs":${Number.isFinite(event.durationMs) ? event.durationMs : 0}` +
      (event.arguments === undefined ? '' : `,"arguments":${JSON.stringify(event.arguments) ?? 'null'}`) +
      tail(request, 'tool call')
  },
  rateLimited (request: FastifyRequest, limit: string): string {
    return head('rate_limit') + `,"limit":${text(limit)}` + optional('principal', request.principal?.id) + tail(request, 'rate limited')
  },
  session (request: FastifyRequest, event: SessionEvent): string {
    return head('session') + `,"action":"${event.action}","outcome":"${event.outcome}"` +
      optional('reason', event.reason) + optional('principal', event.principal) + optional('client', event.client) +
      tail(request, SESSION_MESSAGES[event.action][event.outcome])
  }
}
