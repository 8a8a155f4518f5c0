import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { JSONRPCMessage } from '@modelcontextprotocol/server'
import { MCP_AUTH_MISSING_CREDENTIALS } from '../core/errors.js'
import { JsonRpcCode, sendJsonRpcError } from '../core/jsonrpc.js'
import { parseOptions } from '../core/options.js'
import { principalKey, type Principal } from '../core/principal.js'
import type { LegacyTransport } from '../mcp/legacy-transport.js'
import { mountedServer } from '../mcp/server.js'
import { SessionStore, type Session } from '../mcp/sessions.js'
import { mcpRoutesOptionsSchema, type McpRoutesOptions, type ParsedMcpRoutesOptions } from './mcp-options.js'

// Stateful 2025 sessions: how a POST finds its session, the GET stream and DELETE.

export const SESSION_HEADER = 'mcp-session-id'

function sessionStoreFor (options: ParsedMcpRoutesOptions): SessionStore {
  return new SessionStore({
    idleTimeout: options.sessionIdleTimeout,
    maxSessions: options.maxSessions,
    maxSessionsPerPrincipal: options.maxSessionsPerPrincipal,
    fastToolCalls: options.fastToolCalls,
    ...(options.now === undefined ? {} : { now: options.now })
  })
}

/**
 * The session store stateful routes with these options would create: for a host that wants to
 * read it (the session count, in metrics) and pass it back in as `sessionStore`.
 */
export function createSessionStore (options: McpRoutesOptions): SessionStore {
  return sessionStoreFor(parseOptions('mcp-routes', mcpRoutesOptionsSchema, options))
}

export function principalOf (request: FastifyRequest): Principal {
  // Fail closed: a route reached without an authenticated principal is refused.
  if (request.principal === null || request.principal === undefined) throw new MCP_AUTH_MISSING_CREDENTIALS()
  return request.principal
}

export type LegacyRoute = (request: FastifyRequest, reply: FastifyReply, principal: Principal, messages: readonly JSONRPCMessage[]) =>
  LegacyTransport | undefined | Promise<LegacyTransport | undefined>

/** The caller's session, or undefined after a 400/404 reply has been sent. */
function sessionOf (store: SessionStore, request: FastifyRequest, reply: FastifyReply, principal: Principal): Session | undefined {
  const id = request.headers[SESSION_HEADER]
  if (typeof id !== 'string' || id === '') {
    sendJsonRpcError(reply, 400, JsonRpcCode.ServerError, 'Bad Request: Mcp-Session-Id header is required')
    return undefined
  }
  const session = store.get(id, principalKey(principal))
  if (session === undefined) sendJsonRpcError(reply, 404, JsonRpcCode.SessionNotFound, 'Session not found')
  return session
}

/** initialize opens a session, bound to the principal that sent it; undefined after a refusal has been sent. */
async function openSession (store: SessionStore, options: ParsedMcpRoutesOptions, request: FastifyRequest, reply: FastifyReply, principal: Principal, count: number): Promise<Session | undefined> {
  if (request.headers[SESSION_HEADER] !== undefined) {
    sendJsonRpcError(reply, 400, JsonRpcCode.InvalidRequest, 'Invalid Request: initialize must not carry an Mcp-Session-Id')
    return undefined
  }
  if (count > 1) {
    sendJsonRpcError(reply, 400, JsonRpcCode.InvalidRequest, 'Invalid Request: initialize must be sent alone')
    return undefined
  }
  const session = await store.create(principalKey(principal), () => mountedServer(options.createServer({ principal, era: 'legacy' })))
  if (session === 'full') {
    sendJsonRpcError(reply.header('retry-after', '60'), 503, JsonRpcCode.ServerError, 'Service Unavailable: too many sessions, try again later')
    return undefined
  }
  if (session === 'quota') {
    sendJsonRpcError(reply.header('retry-after', '60'), 503, JsonRpcCode.ServerError,
      `Service Unavailable: you hold ${options.maxSessionsPerPrincipal} sessions, the most one principal may; end one (DELETE) or let idle ones expire`)
    return undefined
  }
  return session
}

/** GET: the session's stream of server-sent messages (one per session). */
function openStream (store: SessionStore) {
  return async function mcpStream (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    const principal = principalOf(request)
    if (request.headers.accept?.includes('text/event-stream') !== true) {
      return sendJsonRpcError(reply, 406, JsonRpcCode.ServerError, 'Not Acceptable: GET requires Accept: text/event-stream')
    }
    const session = sessionOf(store, request, reply, principal)
    if (session === undefined) return reply
    if (!store.attachStream(session, reply.raw)) {
      return sendJsonRpcError(reply, 409, JsonRpcCode.ServerError, 'Conflict: this session already has an open stream')
    }
    reply.header('content-type', 'text/event-stream')
      .header('cache-control', 'no-cache, no-transform')
      .header('x-accel-buffering', 'no')
      .header(SESSION_HEADER, session.id)
    // The stream outlives this handler, so Fastify hands the raw response over; headers set on the
    // reply so far (by hooks too) are carried across.
    reply.hijack()
    for (const [name, value] of Object.entries(reply.getHeaders())) {
      if (value !== undefined) reply.raw.setHeader(name, value)
    }
    reply.raw.writeHead(200)
    reply.raw.write(': stream open\n\n')
    return undefined
  }
}

/** Stateful 2025 sessions: their GET stream and DELETE routes, and how a POST finds its session. */
export function statefulSessions (fastify: FastifyInstance, options: ParsedMcpRoutesOptions): LegacyRoute {
  const store = options.sessionStore ?? sessionStoreFor(options)
  // preClose: open GET streams must end before the server waits for its connections to close;
  // requests in flight finish, and the sessions end after them.
  fastify.addHook('preClose', async () => { store.endStreams() })
  fastify.addHook('onClose', async () => await store.close())
  fastify.get(options.path, openStream(store))
  fastify.delete(options.path, async function mcpEndSession (request, reply) {
    const session = sessionOf(store, request, reply, principalOf(request))
    if (session === undefined) return reply
    await store.delete(session.id)
    return reply.code(204).send()
  })

  return async (request, reply, principal, messages) => {
    const initialize = messages.some((message) => 'method' in message && message.method === 'initialize')
    const session = initialize ? await openSession(store, options, request, reply, principal, messages.length) : sessionOf(store, request, reply, principal)
    if (session === undefined) return undefined
    reply.header(SESSION_HEADER, session.id)
    return session.transport
  }
}
