import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { JSONRPCMessage } from '@modelcontextprotocol/server'
import { z } from 'zod'
import { parseOptions } from '../plugins/auth/options.js'
import { MCP_AUTH_INVALID_OPTION, MCP_AUTH_MISSING_CREDENTIALS } from '../plugins/auth/errors.js'
import { OPEN_ACCESS } from '../plugins/auth/none.js'
import { principalKey, type Principal } from '../plugins/auth/principal.js'
import { HOST_CHECKED, ORIGIN_CHECKED, originHost } from '../plugins/origin-host.js'
import { requestLogAudit, type AuditSink } from '../plugins/audit.js'
import { classifyPost } from '../mcp/inbound.js'
import { JsonRpcCode, sendJsonRpcError } from '../mcp/jsonrpc-error.js'
import type { LegacyTransport } from '../mcp/legacy-transport.js'
import type { AccessCheck, ScopeHierarchy } from '../mcp/permissions.js'
import { LEGACY_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSION } from '../mcp/protocol-versions.js'
import { acceptsOf } from '../mcp/response-channel.js'
import { createCalculatorServer, mountedServer, type CreateMcpServer } from '../mcp/server.js'
import { ServerPool } from '../mcp/server-pool.js'
import { SessionStore, type Session } from '../mcp/sessions.js'
import { ToolAccess } from '../mcp/tool-access.js'
import { legacyExchange, modernExchange, type Exchange, type ExchangeContext } from './mcp-exchange.js'

export const mcpRoutesOptionsSchema = z.strictObject({
  path: z.string().regex(/^\/.*/, 'expected a path starting with /').default('/mcp'),
  sessions: z.enum(['stateless', 'stateful']).default('stateless'),
  createServer: z.custom<CreateMcpServer>((value) => typeof value === 'function', 'expected a function').default(() => createCalculatorServer),
  /** Stateful: milliseconds of inactivity after which a session ends. */
  sessionIdleTimeout: z.number().int().positive().default(10 * 60_000),
  /** Stateful: most sessions at once; more get 503. */
  maxSessions: z.number().int().positive().default(1000),
  /** Stateful: most sessions one principal may hold at once; its next initialize gets 503. */
  maxSessionsPerPrincipal: z.number().int().positive().default(50),
  /** Most principals whose servers are kept (least recently used ones are dropped). */
  maxServers: z.number().int().positive().default(1000),
  /** Serve plain calls of a server's direct tools without the SDK's per-message machinery (see mcp/fast-tool-call.ts). */
  fastToolCalls: z.boolean().default(true),
  /** Most messages in one JSON-RPC batch (2025-03-26 clients only). */
  maxBatchSize: z.number().int().positive().default(100),
  /** Host header values accepted; unset: decided from the address the app listens on (see plugins/origin-host.ts). */
  allowedHosts: z.array(z.string()).optional(),
  allowedOrigins: z.array(z.string()).optional(),
  /** The URL clients use to reach this server, when it is behind a proxy: its host and origin are accepted. */
  publicUrl: z.url().optional(),
  /** Permissions are `<permissionPrefix>:<tool>` unless `toolPermissions` names another for a tool. */
  permissionPrefix: z.string().min(1).default('calculator'),
  toolPermissions: z.record(z.string(), z.string().min(1)).default({}),
  /** Broader scopes and the narrower ones they imply: { "calculator:admin": ["calculator:write"] }. */
  scopeHierarchy: z.record(z.string(), z.array(z.string().min(1))).default({}),
  /** Replaces the permission check (principal, tool, permission) => boolean | Promise<boolean>; errors deny. */
  accessCheck: z.custom<AccessCheck>((value) => typeof value === 'function', 'expected a function').optional(),
  /** The RFC 9728 metadata URL for a request, named in 403 challenges. */
  resourceMetadataUrl: z.custom<(request: FastifyRequest) => string | undefined>((value) => typeof value === 'function', 'expected a function').optional(),
  /** Receives tool-call and permission events (the audit log, metrics); default: the request log. */
  audit: z.custom<AuditSink>((value) => typeof value === 'object' && value !== null).optional(),
  /** Stateful: a session store to use instead of a new one (to read its state from outside). */
  sessionStore: z.instanceof(SessionStore).optional(),
  /** A clock for session expiry, for tests. */
  now: z.custom<() => number>((value) => typeof value === 'function').optional()
})

export type McpRoutesOptions = z.input<typeof mcpRoutesOptionsSchema>
type ParsedOptions = z.output<typeof mcpRoutesOptionsSchema>

const SESSION_HEADER = 'mcp-session-id'

function sessionStoreFor (options: ParsedOptions): SessionStore {
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

function principalOf (request: FastifyRequest): Principal {
  // Fail closed: a route reached without an authenticated principal is refused.
  if (request.principal === null || request.principal === undefined) throw new MCP_AUTH_MISSING_CREDENTIALS()
  return request.principal
}

/** Only JSON bodies are MCP messages: other content types get 415, unreadable JSON 400. */
function bodyErrors (error: FastifyError, _request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (error.code?.startsWith('FST_ERR_CTP_') !== true) throw error
  const status = error.statusCode ?? 400
  const code = status === 400 ? JsonRpcCode.ParseError : JsonRpcCode.ServerError
  const message = status === 415
    ? 'Unsupported Media Type: Content-Type must be application/json'
    : status === 413 ? 'Payload Too Large' : 'Parse error: invalid JSON'
  return sendJsonRpcError(reply, status, code, message)
}

/**
 * The MCP Streamable HTTP endpoint, for both protocol eras on one path. Register it in the same
 * encapsulation context as an auth strategy plugin: the strategy's `onRequest` hook then guards
 * these routes and no others.
 *
 * A POST carrying the 2026-07-28 `_meta` envelope is served statelessly by the principal's
 * long-lived modern server. Anything else is 2025 traffic: stateless (default), one long-lived
 * server per principal takes every POST; stateful, `initialize` opens a session with a server of
 * its own, bound to the principal that opened it.
 */
async function mcpRoutes (fastify: FastifyInstance, rawOptions: McpRoutesOptions): Promise<void> {
  const options = parseOptions('mcp-routes', mcpRoutesOptionsSchema, rawOptions)
  if (!fastify.hasRequestDecorator('principal')) {
    throw new MCP_AUTH_INVALID_OPTION('mcp-routes', 'scope: no auth strategy is registered in this scope; register one (or the none strategy) before the MCP routes')
  }
  // What an enclosing scope does not check already (buildApp checks both, before authentication).
  const hosts = !fastify.hasDecorator(HOST_CHECKED)
  const origins = !fastify.hasDecorator(ORIGIN_CHECKED)
  if (hosts || origins) {
    // With authentication off, no web page may call the tools unless named: any local page could.
    const allowedOrigins = options.allowedOrigins ?? (fastify.hasDecorator(OPEN_ACCESS) ? [] : undefined)
    await fastify.register(originHost, { allowedHosts: options.allowedHosts, allowedOrigins, publicUrl: options.publicUrl, hosts, origins })
  }
  fastify.removeContentTypeParser('text/plain')
  fastify.setErrorHandler(bodyErrors)

  const context: ExchangeContext = {
    access: new ToolAccess({ prefix: options.permissionPrefix, overrides: options.toolPermissions, hierarchy: options.scopeHierarchy as ScopeHierarchy, check: options.accessCheck }),
    resourceMetadataUrl: options.resourceMetadataUrl,
    audit: options.audit ?? requestLogAudit()
  }
  const pool = new ServerPool(options.createServer, { maxServers: options.maxServers, fastToolCalls: options.fastToolCalls })
  // preClose: open listen streams end before the server waits for its connections to close.
  fastify.addHook('preClose', async () => { pool.endStreams() })
  fastify.addHook('onClose', async () => await pool.close())
  const legacyTransport = options.sessions === 'stateless'
    ? (_request: FastifyRequest, _reply: FastifyReply, principal: Principal) => transportOf(pool.legacyFor(principal))
    : statefulSessions(fastify, options)

  let warnedLegacyOnly = false
  fastify.post(options.path, async function mcpPost (request, reply) {
    const principal = principalOf(request)
    const accepts = acceptsOf(request.headers.accept)
    if (!accepts.json && !accepts.sse) {
      return sendJsonRpcError(reply, 406, JsonRpcCode.ServerError, 'Not Acceptable: the client must accept application/json or text/event-stream')
    }
    const inbound = classifyPost(request.body, request.headers, options.maxBatchSize)
    if ('refused' in inbound) {
      const { status, code, message, data, id } = inbound.refused
      return sendJsonRpcError(reply, status, code, message, { data, id })
    }
    const exchange: Exchange = { request, reply, principal, accepts, context }
    if (inbound.era === 'modern') {
      const found = pool.modernFor(principal)
      const endpoint = found instanceof Promise ? await found : found
      if (endpoint === undefined) {
        if (!warnedLegacyOnly) request.log.warn('the MCP server from createServer does not list protocol 2026-07-28 in supportedProtocolVersions: modern clients are refused (pass DUAL_ERA_PROTOCOL_VERSIONS)')
        warnedLegacyOnly = true
        return sendJsonRpcError(reply, 400, JsonRpcCode.UnsupportedProtocolVersion, 'Unsupported protocol version: this server speaks the 2025 revisions only; connect with initialize',
          { id: 'id' in inbound.message ? inbound.message.id : null, data: { supported: [...LEGACY_PROTOCOL_VERSIONS], requested: MODERN_PROTOCOL_VERSION } })
      }
      return await modernExchange(exchange, inbound.message, endpoint)
    }
    const found = legacyTransport(request, reply, principal, inbound.messages)
    const transport = found instanceof Promise ? await found : found
    if (transport === undefined) return reply
    return await legacyExchange(exchange, inbound, transport)
  })

  if (options.sessions === 'stateless') {
    const notAllowed = async (_request: FastifyRequest, reply: FastifyReply) =>
      sendJsonRpcError(reply.header('allow', 'POST'), 405, JsonRpcCode.ServerError, 'Method Not Allowed: this server is stateless; use POST')
    fastify.get(options.path, notAllowed)
    fastify.delete(options.path, notAllowed)
  }
}

function transportOf (endpoint: { transport: LegacyTransport } | Promise<{ transport: LegacyTransport }>): LegacyTransport | Promise<LegacyTransport> {
  return endpoint instanceof Promise ? endpoint.then((connected) => connected.transport) : endpoint.transport
}

type LegacyRoute = (request: FastifyRequest, reply: FastifyReply, principal: Principal, messages: readonly JSONRPCMessage[]) =>
  LegacyTransport | undefined | Promise<LegacyTransport | undefined>

/** Stateful 2025 sessions: their GET stream and DELETE routes, and how a POST finds its session. */
function statefulSessions (fastify: FastifyInstance, options: ParsedOptions): LegacyRoute {
  const store = options.sessionStore ?? sessionStoreFor(options)
  // preClose: open GET streams must end before the server waits for its connections to close;
  // requests in flight finish, and the sessions end after them.
  fastify.addHook('preClose', async () => { store.endStreams() })
  fastify.addHook('onClose', async () => await store.close())

  /** The caller's session, or undefined after a 400/404 reply has been sent. */
  function sessionOf (request: FastifyRequest, reply: FastifyReply, principal: Principal): Session | undefined {
    const id = request.headers[SESSION_HEADER]
    if (typeof id !== 'string' || id === '') {
      sendJsonRpcError(reply, 400, JsonRpcCode.ServerError, 'Bad Request: Mcp-Session-Id header is required')
      return undefined
    }
    const session = store.get(id, principalKey(principal))
    if (session === undefined) sendJsonRpcError(reply, 404, JsonRpcCode.SessionNotFound, 'Session not found')
    return session
  }

  /** initialize opens a session; the rest need one. */
  async function openSession (request: FastifyRequest, reply: FastifyReply, principal: Principal, count: number): Promise<Session | undefined> {
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

  fastify.get(options.path, async function mcpStream (request, reply) {
    const principal = principalOf(request)
    if (request.headers.accept?.includes('text/event-stream') !== true) {
      return sendJsonRpcError(reply, 406, JsonRpcCode.ServerError, 'Not Acceptable: GET requires Accept: text/event-stream')
    }
    const session = sessionOf(request, reply, principal)
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
  })

  fastify.delete(options.path, async function mcpEndSession (request, reply) {
    const principal = principalOf(request)
    const session = sessionOf(request, reply, principal)
    if (session === undefined) return reply
    await store.delete(session.id)
    return reply.code(204).send()
  })

  return async (request, reply, principal, messages) => {
    const initialize = messages.some((message) => 'method' in message && message.method === 'initialize')
    const session = initialize ? await openSession(request, reply, principal, messages.length) : sessionOf(request, reply, principal)
    if (session === undefined) return undefined
    reply.header(SESSION_HEADER, session.id)
    return session.transport
  }
}

/** Not wrapped with fastify-plugin: its hooks and error handler stay inside the MCP routes. */
export default mcpRoutes
export { mcpRoutes }
