import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { JSONRPCMessage } from '@modelcontextprotocol/server'
import { parseOptions } from '../core/options.js'
import { MCP_AUTH_INVALID_OPTION, MCP_AUTH_MISSING_CREDENTIALS } from '../core/errors.js'
import { OPEN_ACCESS } from '../core/authenticator.js'
import { principalKey, type Principal } from '../core/principal.js'
import { HOST_CHECKED, ORIGIN_CHECKED, originHost } from '../plugins/origin-host.js'
import { requestLogAudit } from '../plugins/audit.js'
import { classifyPost } from '../mcp/inbound.js'
import { JsonRpcCode, sendJsonRpcError } from '../core/jsonrpc.js'
import type { LegacyTransport } from '../mcp/legacy-transport.js'
import { LEGACY_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSION } from '../mcp/protocol-versions.js'
import { acceptsOf } from '../mcp/response-channel.js'
import { mountedServer } from '../mcp/server.js'
import { ServerPool } from '../mcp/server-pool.js'
import { SessionStore, type Session } from '../mcp/sessions.js'
import { ToolAccess } from '../mcp/tool-access.js'
import { mcpRoutesOptionsSchema, type McpRoutesOptions, type ParsedMcpRoutesOptions } from './mcp-options.js'
import { legacyExchange, modernExchange, type Exchange, type ExchangeContext } from './mcp-exchange.js'

const SESSION_HEADER = 'mcp-session-id'

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
    access: new ToolAccess({ prefix: options.permissionPrefix, overrides: options.toolPermissions, hierarchy: options.scopeHierarchy, check: options.accessCheck }),
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
function statefulSessions (fastify: FastifyInstance, options: ParsedMcpRoutesOptions): LegacyRoute {
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
export { mcpRoutesOptionsSchema, mcpSectionSchema, type McpRoutesOptions, type McpSection } from './mcp-options.js'
