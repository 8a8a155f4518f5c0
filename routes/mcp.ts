import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { parseOptions } from '../core/options.js'
import { MCP_AUTH_INVALID_OPTION } from '../core/errors.js'
import { OPEN_ACCESS } from '../core/authenticator.js'
import { HOST_CHECKED, ORIGIN_CHECKED, originHost } from '../plugins/origin-host.js'
import { requestLogAudit } from '../plugins/audit.js'
import { classifyPost } from '../mcp/inbound.js'
import { JsonRpcCode, sendJsonRpcError } from '../core/jsonrpc.js'
import { LEGACY_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSION } from '../mcp/protocol-versions.js'
import { acceptsOf } from '../mcp/response-channel.js'
import { ServerPool } from '../mcp/server-pool.js'
import { advertisingExtensions } from '../mcp/server.js'
import { ToolAccess } from '../mcp/tool-access.js'
import { mcpRoutesOptionsSchema, type McpRoutesOptions, type ParsedMcpRoutesOptions } from './mcp-options.js'
import { principalOf, statefulSessions, type LegacyRoute } from './mcp-sessions.js'
import { andThen } from '../core/maybe-async.js'
import { legacyExchange, modernExchange, type Exchange, type ExchangeContext } from './mcp-exchange.js'

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
  const parsed = parseOptions('mcp-routes', mcpRoutesOptionsSchema, rawOptions)
  const options = { ...parsed, createServer: advertisingExtensions(parsed.createServer, parsed.extensions) }
  if (!fastify.hasRequestDecorator('principal')) {
    throw new MCP_AUTH_INVALID_OPTION('mcp-routes', 'scope: no auth strategy is registered in this scope; register one (or the none strategy) before the MCP routes')
  }
  await checkOriginAndHost(fastify, options)
  fastify.removeContentTypeParser('text/plain')
  fastify.setErrorHandler(bodyErrors)

  // The calculator's tools read the caller from each request and never message the client: one server serves everyone.
  const serverScope = options.serverScope ?? (rawOptions.createServer === undefined ? 'deployment' : 'principal')
  const pool = new ServerPool(options.createServer, { maxServers: options.maxServers, fastToolCalls: options.fastToolCalls, shared: serverScope === 'deployment' })
  // preClose: open listen streams end before the server waits for its connections to close.
  fastify.addHook('preClose', async () => { pool.endStreams() })
  fastify.addHook('onClose', async () => await pool.close())
  const legacyTransport: LegacyRoute = options.sessions === 'stateless'
    ? (_request, _reply, principal) => andThen(pool.legacyFor(principal), (endpoint) => endpoint.transport)
    : statefulSessions(fastify, options)
  fastify.post(options.path, postHandler(options, pool, legacyTransport))
  if (options.sessions === 'stateless') {
    const notAllowed = async (_request: FastifyRequest, reply: FastifyReply) =>
      sendJsonRpcError(reply.header('allow', 'POST'), 405, JsonRpcCode.ServerError, 'Method Not Allowed: this server is stateless; use POST')
    fastify.get(options.path, notAllowed)
    fastify.delete(options.path, notAllowed)
  }
}

/** Host and Origin, where an enclosing scope does not check them already (buildApp checks both, before authentication). */
async function checkOriginAndHost (fastify: FastifyInstance, options: ParsedMcpRoutesOptions): Promise<void> {
  const hosts = !fastify.hasDecorator(HOST_CHECKED)
  const origins = !fastify.hasDecorator(ORIGIN_CHECKED)
  if (!hosts && !origins) return
  // With authentication off, no web page may call the tools unless named: any local page could.
  const allowedOrigins = options.allowedOrigins ?? (fastify.hasDecorator(OPEN_ACCESS) ? [] : undefined)
  await fastify.register(originHost, { allowedHosts: options.allowedHosts, allowedOrigins, publicUrl: options.publicUrl, hosts, origins })
}

/** POST: one message or a batch, of either era, exchanged with the principal's server. */
function postHandler (options: ParsedMcpRoutesOptions, pool: ServerPool, legacyTransport: LegacyRoute) {
  const context: ExchangeContext = {
    access: new ToolAccess({ prefix: options.permissionPrefix, overrides: options.toolPermissions, hierarchy: options.scopeHierarchy, check: options.accessCheck }),
    resourceMetadataUrl: options.resourceMetadataUrl,
    audit: options.audit ?? requestLogAudit()
  }
  let warnedLegacyOnly = false
  return async function mcpPost (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
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
    if (inbound.era === 'legacy') {
      const transport = await legacyTransport(request, reply, principal, inbound.messages)
      return transport === undefined ? reply : await legacyExchange(exchange, inbound, transport)
    }
    const endpoint = await pool.modernFor(principal)
    if (endpoint !== undefined) return await modernExchange(exchange, inbound.message, endpoint)
    if (!warnedLegacyOnly) request.log.warn('the MCP server from createServer does not list protocol 2026-07-28 in supportedProtocolVersions: modern clients are refused (pass DUAL_ERA_PROTOCOL_VERSIONS)')
    warnedLegacyOnly = true
    return sendJsonRpcError(reply, 400, JsonRpcCode.UnsupportedProtocolVersion, 'Unsupported protocol version: this server speaks the 2025 revisions only; connect with initialize',
      { id: 'id' in inbound.message ? inbound.message.id : null, data: { supported: [...LEGACY_PROTOCOL_VERSIONS], requested: MODERN_PROTOCOL_VERSION } })
  }
}

/** Not wrapped with fastify-plugin: its hooks and error handler stay inside the MCP routes. */
export default mcpRoutes
export { mcpRoutes }
export { mcpRoutesOptionsSchema, mcpSectionSchema, type McpRoutesOptions, type McpSection } from './mcp-options.js'
export { createSessionStore } from './mcp-sessions.js'
