import t from 'tap'
import fc from 'fast-check'
import type { FastifyRequest } from 'fastify'
import { pino } from 'pino'
import { Writable } from 'node:stream'
import { isDeepStrictEqual } from 'node:util'
import { auditLine } from '../../plugins/audit-line.js'
import type { AuthEvent, SessionEvent, ToolEvent } from '../../plugins/audit.js'

// The audit log builds its JSON lines itself, field by field. Whatever the strings hold (quotes,
// backslashes, control characters, line separators, lone surrogates), each line must parse to
// exactly the event, hold no raw newline, and say what pino would have said for it (in a fixed field order).

function requestWith (userAgent: string | undefined, id: string, principal?: string): FastifyRequest {
  const request = { ip: '127.0.0.1', id, headers: userAgent === undefined ? {} : { 'user-agent': userAgent }, principal: principal === undefined ? null : { id: principal } }
  return request as unknown as FastifyRequest
}

/** What pino writes for the same object (its own serialisation, minus the time, which differs by a clock read). */
function pinoLine (object: Record<string, unknown>, msg: string): Record<string, unknown> {
  let written = ''
  const sink = new Writable({ write (chunk: Buffer, _encoding, done) { written += chunk.toString(); done() } })
  const logger = pino({ level: 'info', base: undefined, timestamp: false }, sink)
  logger.info(object, msg)
  return JSON.parse(written) as Record<string, unknown>
}

function parsed (line: string): Record<string, unknown> {
  const { time, ...rest } = JSON.parse(line) as Record<string, unknown>
  if (typeof time !== 'number') throw new Error('no time')
  return rest
}

t.test('every auth, tool, rate-limit and session line is one line that parses to what pino would write', async (t) => {
  const anyText = fc.string({ unit: 'binary', maxLength: 40 })
  const maybeText = fc.option(anyText, { nil: undefined })
  fc.assert(fc.property(anyText, anyText, maybeText, maybeText, maybeText, fc.constantFrom<AuthEvent['outcome']>('success', 'failure', 'throttled'),
    (strategy, principal, reason, detail, userAgent, outcome) => {
      const request = requestWith(userAgent, 'req-1', principal)
      const event: AuthEvent = { strategy, outcome, principal, ...(reason === undefined ? {} : { reason }), ...(detail === undefined ? {} : { detail }) }
      const line = auditLine.auth(request, event)
      const expected = pinoLine({ event: 'auth', ...event, ip: '127.0.0.1', reqId: 'req-1', userAgent }, { success: 'authenticated', failure: 'authentication failed', throttled: 'authentication throttled' }[outcome])
      return line.endsWith('\n') && !line.slice(0, -1).includes('\n') && isDeepStrictEqual(parsed(line), expected)
    }), { numRuns: 2000 })
  fc.assert(fc.property(anyText, anyText, fc.double({ noNaN: true, noDefaultInfinity: true }), fc.option(fc.jsonValue(), { nil: undefined }),
    (tool, principal, durationMs, args) => {
      const request = requestWith('agent', 'req-2')
      const event: ToolEvent = { tool, principal, strategy: 'jwt', outcome: 'success', era: 'modern', durationMs, ...(args === undefined ? {} : { arguments: args }) }
      const expected = pinoLine({ event: 'tool', ...event, ip: '127.0.0.1', reqId: 'req-2', userAgent: 'agent' }, 'tool call')
      return isDeepStrictEqual(parsed(auditLine.tool(request, event)), expected)
    }), { numRuns: 2000 })
  const limited = parsed(auditLine.rateLimited(requestWith(undefined, 'req-3', 'p"\\'), 'per_principal'))
  t.same(limited, pinoLine({ event: 'rate_limit', limit: 'per_principal', principal: 'p"\\', ip: '127.0.0.1', reqId: 'req-3' }, 'rate limited'))
  const messages = { logout: { success: 'signed out', failure: 'sign-out refused' }, silent_authorization: { success: 'authorized without a page', failure: 'authorization without a page refused' } }
  fc.assert(fc.property(maybeText, maybeText, maybeText, fc.constantFrom<SessionEvent['action']>('logout', 'silent_authorization'), fc.constantFrom<SessionEvent['outcome']>('success', 'failure'),
    (principal, client, reason, action, outcome) => {
      const event: SessionEvent = { action, outcome, ...(reason === undefined ? {} : { reason }), ...(principal === undefined ? {} : { principal }), ...(client === undefined ? {} : { client }) }
      const line = auditLine.session(requestWith('agent', 'req-4'), event)
      const expected = pinoLine({ event: 'session', ...event, ip: '127.0.0.1', reqId: 'req-4', userAgent: 'agent' }, messages[action][outcome])
      return line.endsWith('\n') && !line.slice(0, -1).includes('\n') && isDeepStrictEqual(parsed(line), expected)
    }), { numRuns: 1000 })
})
