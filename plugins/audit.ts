import type { FastifyRequest } from 'fastify'
import { auditLine, SESSION_MESSAGES } from './audit-line.js'

export type AuthOutcomeName = 'success' | 'failure' | 'throttled'

export interface AuthEvent {
  strategy: string
  outcome: AuthOutcomeName
  /** Why it failed: missing_credentials, invalid_credentials, token_expired, token_revoked, insufficient_permission, rate_limited, … */
  reason?: string
  /** A strategy's more precise why, when it gives one (`wrong_audience`, `inactive`, …): never a credential. */
  detail?: string
  principal?: string
  permission?: string
}

export interface ToolEvent {
  tool: string
  principal: string
  strategy: string
  outcome: 'success' | 'error' | 'denied'
  /** The MCP protocol era of the call: `legacy` (2025 revisions) or `modern` (2026-07-28). */
  era?: 'legacy' | 'modern'
  durationMs: number
  arguments?: unknown
}

/**
 * A change to a browser's sign-in on the built-in authorization server that is not a password
 * check: a sign-out, or an authorization request answered without a page (`prompt=none`).
 */
export interface SessionEvent {
  action: 'logout' | 'silent_authorization'
  outcome: 'success' | 'failure'
  /** Why a silent authorization was refused: login_required, consent_required, invalid_scope. */
  reason?: string
  principal?: string
  client?: string
}

/** Receives every auth attempt and tool call; the audit log and the metrics both listen. */
export interface AuditSink {
  auth: (request: FastifyRequest, event: AuthEvent) => void
  tool: (request: FastifyRequest, event: ToolEvent) => void
  rateLimited: (request: FastifyRequest, limit: string) => void
  /** Sign-outs and silent authorizations; optional, so sinks written before it still fit. */
  session?: (request: FastifyRequest, event: SessionEvent) => void
  /** Whether tool events should carry the call's arguments. */
  readonly includeArguments: boolean
}

function requestFields (request: FastifyRequest): Record<string, unknown> {
  return { ip: request.ip, reqId: request.id, userAgent: request.headers['user-agent'] }
}

/** Where audit lines go: a stream, or pino's batching destination. */
export interface LineWriter {
  write: (line: string) => unknown
}

/**
 * The audit log: one JSON line per authentication attempt, tool call and limit refusal, written to
 * `out` (stdout or `audit.file`). Events never carry a credential: they are built from fixed
 * fields, not from headers or bodies (see audit-line.ts).
 */
export function createAuditLog (out: LineWriter, options: { includeArguments: boolean }): AuditSink {
  return {
    includeArguments: options.includeArguments,
    auth: (request, event) => { out.write(auditLine.auth(request, event)) },
    tool: (request, event) => { out.write(auditLine.tool(request, event)) },
    rateLimited: (request, limit) => { out.write(auditLine.rateLimited(request, limit)) },
    session: (request, event) => { out.write(auditLine.session(request, event)) }
  }
}

/** Several sinks as one. */
export function fanOut (...sinks: AuditSink[]): AuditSink {
  return {
    includeArguments: sinks.some((sink) => sink.includeArguments),
    auth: (request, event) => { for (const sink of sinks) sink.auth(request, event) },
    tool: (request, event) => { for (const sink of sinks) sink.tool(request, event) },
    rateLimited: (request, limit) => { for (const sink of sinks) sink.rateLimited(request, limit) },
    session: (request, event) => { for (const sink of sinks) sink.session?.(request, event) }
  }
}

/** No audit at all (`audit.enabled: false`). */
export function silentAudit (): AuditSink {
  return { includeArguments: false, auth: () => {}, tool: () => {}, rateLimited: () => {} }
}

/** What plugins use when no audit sink was configured: the request's own logger. */
export function requestLogAudit (): AuditSink {
  return {
    includeArguments: false,
    auth: (request, event) => { if (event.outcome !== 'success') request.log.info({ event: 'auth', ...event, ...requestFields(request) }, 'authentication failed') },
    tool: () => {},
    rateLimited: (request, limit) => { request.log.info({ event: 'rate_limit', limit, ...requestFields(request) }, 'rate limited') },
    session: (request, event) => { request.log.info({ event: 'session', ...event, ...requestFields(request) }, SESSION_MESSAGES[event.action][event.outcome]) }
  }
}
