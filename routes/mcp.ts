import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { JSONRPCMessageSchema, SUPPORTED_PROTOCOL_VERSIONS, type JSONRPCMessage, type MessageExtraInfo } from '@modelcontextprotocol/sdk/types.js'
import { z } from 'zod'
import { parseOptions } from '../plugins/auth/options.js'
import { MCP_AUTH_INVALID_OPTION, MCP_AUTH_MISSING_CREDENTIALS } from '../plugins/auth/errors.js'
import { principalKey, toAuthInfo, type Principal } from '../plugins/auth/principal.js'
import { originHost } from '../plugins/origin-host.js'
import { JsonRpcCode, sendJsonRpcError } from '../mcp/jsonrpc-error.js'
import { createCalculatorServer, type CreateMcpServer } from '../mcp/server.js'
import { ServerPool } from '../mcp/server-pool.js'
import { SessionStore, type Session } from '../mcp/sessions.js'
import type { HttpMultiplexTransport } from '../mcp/transport.js'
import type { AccessCheck } from '../mcp/permissions.js'
import { requestLogAudit, type AuditSink } from '../plugins/audit.js'
import { ToolAccess } from '../mcp/tool-access.js'
import { exchange, type ExchangeContext } from './mcp-exchange.js'

export const mcpRoutesOptionsSchema = z.strictObject({
  path: z.string().regex(/^\/.*/, 'expected a path starting with /').default('/mcp'),
  sessions: z.enum(['stateless', 'stateful']).default('stateless'),
  createServer: z.custom<CreateMcpServer>((value) => typeof value === 'function', 'expected a function').default(() => createCalculatorServer),
  /** Stateful: milliseconds of inactivity after which a session ends. */
  sessionIdleTimeout: z.number().int().positive().default(10 * 60_000),
  /** Stateful: most sessions at once; more get 503. */
  maxSessions: z.number().int().positive().default(1000),
  /** Stateless: most per-principal servers kept (least recently used ones are dropped). */
  maxServers: z.number().int().positive().default(1000),
  /** Serve plain tools/call requests without the SDK's per-message machinery (see mcp/fast-tool-call.ts). */
  fastToolCalls: z.boolean().default(true),
  /** Most messages in one JSON-RPC batch. */
  maxBatchSize: z.number().int().positive().default(100),
  allowedHosts: z.array(z.string()).optional(),
  allowedOrigins: z.array(z.string()).optional(),
  /** Permissions are `<permissionPrefix>:<tool>` unless `toolPermissions` names another for a tool. */
  permissionPrefix: z.string().min(1).default('calculator'),
  toolPermissions: z.record(z.string(), z.string().min(1)).default({}),
  /** Replaces the permission check (principal, tool, permission) => boolean | Promise<boolean>; errors deny. */
  accessCheck: z.custom<AccessCheck>((value) => typeof value === 'function', 'expected a function').optional(),
  /** The RFC 9728 metadata URL for a request, named in 403 challenges. */
  resourceMetadataUrl: z.custom<(request: FastifyRequest) => string>((value) => typeof value === 'function', 'expected a function').optional(),
  /** Receives tool-call and permission events (the audit log, metrics); default: the request log. */
  audit: z.custom<AuditSink>((value) => typeof value === 'object' && value !== null).optional(),
  /** Stateful: a session store to use instead of a new one (to read its state from outside). */
  sessionStore: z.instanceof(SessionStore).optional(),
  /** A clock for session expiry, for tests. */
  now: z.custom<() => number>((value) => typeof value === 'function').optional()
})

export type McpRoutesOptions = z.input<typeof mcpRoutesOptionsSchema>

const SESSION_HEADER = 'mcp-session-id'
/** Headers a tool may see in `extra.requestInfo`; credentials never reach the MCP server. */
const FORWARDED_HEADERS = ['user-agent', 'mcp-session-id', 'mcp-protocol-version', 'accept', 'content-type'] as const

function requestInfo (request: FastifyRequest): MessageExtraInfo['requestInfo'] {
  const headers: Record<string, string> = {}
  for (const name of FORWARDED_HEADERS) {
    const value = request.headers[name]
    if (typeof value === 'string') headers[name] = value
  }
  return { headers }
}

function parseMessages (body: unknown, maxBatchSize: number): { messages: JSONRPCMessage[], batch: boolean } | string {
  const batch = Array.isArray(body)
  const items: unknown[] = batch ? body : [body]
  if (items.length === 0) return 'Invalid Request: empty batch'
  if (items.length > maxBatchSize) return `Invalid Request: a batch may hold at most ${maxBatchSize} messages`
  const messages: JSONRPCMessage[] = []
  for (const item of items) {
    const parsed = JSONRPCMessageSchema.safeParse(item)
    if (!parsed.success) return 'Invalid Request: not a JSON-RPC 2.0 message'
    messages.push(parsed.data)
  }
  return { messages, batch }
}

/**
 * The MCP Streamable HTTP endpoint. Register it in the same encapsulation context as an auth
 * strategy plugin: the strategy's `onRequest` hook then guards these routes and no others.
 *
 * Stateless (default): one long-lived MCP server per principal (`createServer` is called on a
 * principal's first request and the server kept, LRU-bounded by `maxServers`); each POST is
 * multiplexed onto it and answered with JSON. Stateful: `createServer` is called once per session.
 */
type ParsedOptions = z.output<typeof mcpRoutesOptionsSchema>

function sessionStoreFor (options: ParsedOptions): SessionStore {
  return new SessionStore({
    idleTimeout: options.sessionIdleTimeout,
    maxSessions: options.maxSessions,
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

async function mcpRoutes (fastify: FastifyInstance, rawOptions: McpRoutesOptions): Promise<void> {
  const options = parseOptions('mcp-routes', mcpRoutesOptionsSchema, rawOptions)
  if (!fastify.hasRequestDecorator('principal')) {
    throw new MCP_AUTH_INVALID_OPTION('mcp-routes', 'scope: no auth strategy is registered in this scope; register one (or the none strategy) before the MCP routes')
  }
  const createServer = options.createServer

  await fastify.register(originHost, { allowedHosts: options.allowedHosts, allowedOrigins: options.allowedOrigins })
  // Only JSON bodies are MCP messages; anything else is answered 415 by the error handler below.
  fastify.removeContentTypeParser('text/plain')
  fastify.setErrorHandler(function mcpErrors (error: FastifyError, _request, reply) {
    if (error.code?.startsWith('FST_ERR_CTP_') === true) {
      const status = error.statusCode ?? 400
      const code = status === 400 ? JsonRpcCode.ParseError : JsonRpcCode.ServerError
      const message = status === 415
        ? 'Unsupported Media Type: Content-Type must be application/json'
        : status === 413 ? 'Payload Too Large' : 'Parse error: invalid JSON'
      return sendJsonRpcError(reply, status, code, message)
    }
    throw error
  })
  fastify.addHook('onRequest', function checkProtocolVersion (request, reply, done) {
    const version = request.headers['mcp-protocol-version']
    if (version !== undefined && (typeof version !== 'string' || !SUPPORTED_PROTOCOL_VERSIONS.includes(version))) {
      sendJsonRpcError(reply, 400, JsonRpcCode.ServerError,
        `Bad Request: unsupported MCP-Protocol-Version (supported: ${SUPPORTED_PROTOCOL_VERSIONS.join(', ')})`)
      return
    }
    done()
  })

  function principalOf (request: FastifyRequest): Principal {
    // Fail closed: a route reached without an authenticated principal is refused.
    if (request.principal === null || request.principal === undefined) throw new MCP_AUTH_MISSING_CREDENTIALS()
    return request.principal
  }

  const exchangeContext: ExchangeContext = {
    access: new ToolAccess({ prefix: options.permissionPrefix, overrides: options.toolPermissions, check: options.accessCheck }),
    resourceMetadataUrl: options.resourceMetadataUrl,
    audit: options.audit ?? requestLogAudit()
  }

  /**
   * The transport a POST's messages go to, or undefined once an error reply has been sent.
   * Synchronous when it can be: this is on every request.
   */
  type Route = (request: FastifyRequest, reply: FastifyReply, principal: Principal, messages: JSONRPCMessage[]) =>
    HttpMultiplexTransport | undefined | Promise<HttpMultiplexTransport | undefined>
  let route: Route

  fastify.post(options.path, async function mcpPost (request, reply) {
    const principal = principalOf(request)
    const parsed = parseMessages(request.body, options.maxBatchSize)
    if (typeof parsed === 'string') return sendJsonRpcError(reply, 400, JsonRpcCode.InvalidRequest, parsed)
    const routed = route(request, reply, principal, parsed.messages)
    const transport = routed instanceof Promise ? await routed : routed
    if (transport === undefined) return reply
    const extra: MessageExtraInfo = { authInfo: toAuthInfo(principal), requestInfo: requestInfo(request) }
    return await exchange(request, reply, principal, parsed, transport, extra, exchangeContext)
  })

  if (options.sessions === 'stateless') {
    const pool = new ServerPool((principal) => createServer({ principal }), options.maxServers, options.fastToolCalls)
    fastify.addHook('onClose', async () => pool.close())
    route = (_request, _reply, principal) => pool.transportFor(principal)
    const notAllowed = async (_request: FastifyRequest, reply: FastifyReply) =>
      sendJsonRpcError(reply.header('allow', 'POST'), 405, JsonRpcCode.ServerError, 'Method Not Allowed: this server is stateless; use POST')
    fastify.get(options.path, notAllowed)
    fastify.delete(options.path, notAllowed)
    return
  }

  const store = options.sessionStore ?? sessionStoreFor(options)
  // preClose: open GET streams must end before the server waits for its connections to close.
  fastify.addHook('preClose', async () => store.close())

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

  /** initialize opens a session (the initialize handler validates the rest of the request); the rest need one. */
  async function openSession (request: FastifyRequest, reply: FastifyReply, principal: Principal, messages: JSONRPCMessage[]): Promise<Session | undefined> {
    if (request.headers[SESSION_HEADER] !== undefined) {
      sendJsonRpcError(reply, 400, JsonRpcCode.InvalidRequest, 'Invalid Request: initialize must not carry an Mcp-Session-Id')
      return undefined
    }
    if (messages.length > 1) {
      sendJsonRpcError(reply, 400, JsonRpcCode.InvalidRequest, 'Invalid Request: initialize must be sent alone')
      return undefined
    }
    const session = await store.create(principalKey(principal), () => createServer({ principal }))
    if (session === undefined) {
      sendJsonRpcError(reply.header('retry-after', '60'), 503, JsonRpcCode.ServerError, 'Service Unavailable: too many sessions, try again later')
    }
    return session
  }

  route = async (request, reply, principal, messages) => {
    const initialize = messages.some((message) => 'method' in message && message.method === 'initialize')
    const session = initialize ? await openSession(request, reply, principal, messages) : sessionOf(request, reply, principal)
    if (session === undefined) return undefined
    reply.header(SESSION_HEADER, session.id)
    return session.transport
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
}

/** Not wrapped with fastify-plugin: its hooks and error handler stay inside the MCP routes. */
export default mcpRoutes
export { mcpRoutes }
