import { McpServer, type RegisteredTool, type ServerCapabilities } from '@modelcontextprotocol/server'
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/server/validators/ajv'
import type { Principal } from '../core/principal.js'
import { registerCalculatorTools } from './calculator.js'
import { DUAL_ERA_PROTOCOL_VERSIONS, type ProtocolEra } from './protocol-versions.js'
import { PACKAGE_VERSION } from '../core/package.js'

/** One validator for every server: building an Ajv instance per server costs more than a tool call. */
const sharedValidator = new AjvJsonSchemaValidator()

export const CALCULATOR_NAME = 'fastify-mcp-auth-calculator'
export const CALCULATOR_VERSION = PACKAGE_VERSION

export interface CreateServerContext {
  /**
   * The principal the server is created for (the session owner, or the principal in stateless
   * mode); with `serverScope: 'deployment'`, a placeholder (id `*`): tools read each caller from
   * `ctx.http.authInfo`.
   */
  principal: Principal
  /**
   * The protocol era the server will serve. Each principal gets its own server per era: an SDK
   * server speaks one era, fixed when it connects.
   */
  era: ProtocolEra
}

/** A server to mount, and optionally the tools the route may call directly. */
export interface MountedServer {
  server: McpServer
  /**
   * Tools whose handlers read only their arguments, `ctx.http.authInfo` and `ctx.mcpReq.signal`
   * (no progress, logs or input requests): plain calls of them skip the SDK's per-request
   * machinery and are several times cheaper. Leave a tool out when in doubt.
   */
  directTools?: ReadonlyMap<string, RegisteredTool>
}

/**
 * Builds an MCP server; the route plugin decides how often (see routes/mcp.ts). To serve the
 * 2026-07-28 revision the server must list it: `supportedProtocolVersions: DUAL_ERA_PROTOCOL_VERSIONS`.
 */
export type CreateMcpServer = (context: CreateServerContext) => McpServer | MountedServer

export function mountedServer (created: McpServer | MountedServer): MountedServer {
  return created instanceof McpServer ? { server: created } : created
}

export const createCalculatorServer: CreateMcpServer = () => {
  const server = new McpServer(
    { name: CALCULATOR_NAME, version: CALCULATOR_VERSION },
    {
      supportedProtocolVersions: [...DUAL_ERA_PROTOCOL_VERSIONS],
      jsonSchemaValidator: sharedValidator,
      instructions: 'A calculator. Every tool takes numbers and returns { result }.',
      // The tool list never changes, but it is filtered per principal: it may be cached, privately.
      capabilities: { tools: { listChanged: false } },
      cacheHints: { 'tools/list': { ttlMs: 300_000, cacheScope: 'private' }, 'server/discover': { ttlMs: 300_000, cacheScope: 'public' } }
    }
  )
  return { server, directTools: registerCalculatorTools(server) }
}

/** Capability extensions by identifier, each with its settings (a JSON object; `{}` for none). */
export type CapabilityExtensions = NonNullable<ServerCapabilities['extensions']>

/**
 * `create`, with every server it builds also advertising `extensions` in its capabilities
 * (`capabilities.extensions`: in the 2026-07-28 `server/discover` result and the legacy
 * `initialize` result alike). For what the deployment around the server offers, such as the
 * OAuth client-credentials extension when the token endpoint is on: custom servers get it too.
 */
export function advertisingExtensions (create: CreateMcpServer, extensions: Readonly<CapabilityExtensions>): CreateMcpServer {
  if (Object.keys(extensions).length === 0) return create
  return (context) => {
    const mounted = mountedServer(create(context))
    // Merged with the server's own extensions; allowed only before it connects, which is later.
    mounted.server.server.registerCapabilities({ extensions: { ...extensions } })
    return mounted
  }
}
