import type { FastifyRequest } from 'fastify'
import { z } from 'zod'
import { duration } from '../core/duration.js'
import type { AccessCheck } from '../core/permissions.js'
import type { AuditSink } from '../plugins/audit.js'
import { createCalculatorServer, type CapabilityExtensions, type CreateMcpServer } from '../mcp/server.js'
import { SessionStore } from '../mcp/sessions.js'

const positiveDuration = duration.refine((ms) => ms > 0, 'expected a duration above zero')
const count = z.coerce.number().int().positive()

/**
 * The MCP endpoint's options that a config file can hold: the `mcp` section is this schema, and
 * `mcpRoutes` takes it too (plus the functions below), so the two cannot drift apart.
 */
export const mcpSectionSchema = z.strictObject({
  path: z.string().regex(/^\/[A-Za-z0-9._~\-/]*$/, 'expected a path starting with /').default('/mcp'),
  sessions: z.enum(['stateless', 'stateful']).default('stateless'),
  /** Stateful: inactivity after which a session ends. */
  sessionIdleTimeout: positiveDuration.default(10 * 60_000),
  /** Stateful: most sessions at once; more get 503. */
  maxSessions: count.default(1000),
  /** Stateful: most sessions one principal may hold at once; its next initialize gets 503 (that principal only). */
  maxSessionsPerPrincipal: count.default(50),
  /** Most principals whose servers are kept (least recently used ones are dropped). */
  maxServers: count.default(1000),
  /**
   * Stateless (and 2026-07-28) requests: one MCP server per principal and era (`principal`), or one
   * per era for everyone (`deployment`), each caller passed per request in `ctx.http.authInfo`.
   * Default: `deployment` for the built-in calculator, `principal` with your own `createServer`.
   */
  serverScope: z.enum(['principal', 'deployment']).optional(),
  /** Serve plain calls of a server's direct tools without the SDK's per-message machinery (see mcp/fast-tool-call.ts). */
  fastToolCalls: z.boolean().default(true),
  /** Most messages in one JSON-RPC batch (2025-03-26 clients only; 400 beyond). */
  maxBatchSize: count.default(100),
  /** Host header values accepted (`*`: any); unset: decided from the address the app listens on (see plugins/origin-host.ts). */
  allowedHosts: z.array(z.string().min(1)).optional(),
  /** Origin header values accepted when one is sent; unset: loopback origins when bound to loopback, and the publicUrl origin. */
  allowedOrigins: z.array(z.string().min(1)).optional(),
  /** Permissions are `<permissionPrefix>:<tool>` unless `toolPermissions` names another for a tool. */
  permissionPrefix: z.string().min(1).default('calculator'),
  /** The permission a tool requires, where it is not `<prefix>:<tool>`: { power: "calculator:advanced" }. */
  toolPermissions: z.record(z.string(), z.string().min(1)).default({}),
  /** Broader scopes and the narrower ones they imply: { "calculator:admin": ["calculator:write"] }. */
  scopeHierarchy: z.record(z.string().min(1), z.array(z.string().min(1))).default({})
})

const fn = <T>() => z.custom<T>((value) => typeof value === 'function', 'expected a function')

/** `mcpRoutes` options: the `mcp` section plus what only code can give. */
export const mcpRoutesOptionsSchema = mcpSectionSchema.extend({
  createServer: fn<CreateMcpServer>().default(() => createCalculatorServer),
  /**
   * Capability extensions every server built by createServer advertises besides its own (by
   * identifier, each with its settings object), such as the OAuth client-credentials extension.
   */
  extensions: z.custom<CapabilityExtensions>((value) => typeof value === 'object' && value !== null && !Array.isArray(value) &&
    Object.values(value).every((settings) => typeof settings === 'object' && settings !== null && !Array.isArray(settings)), 'expected { "<extension id>": { …settings } }').default({}),
  /** The URL clients use to reach this server, when it is behind a proxy: its host and origin are accepted. */
  publicUrl: z.url().optional(),
  /** Replaces the permission check (principal, tool, permission) => boolean | Promise<boolean>; errors deny. */
  accessCheck: fn<AccessCheck>().optional(),
  /** The RFC 9728 metadata URL for a request, named in 403 challenges. */
  resourceMetadataUrl: fn<(request: FastifyRequest) => string | undefined>().optional(),
  /** Receives tool-call and permission events (the audit log, metrics); default: the request log. */
  audit: z.custom<AuditSink>((value) => typeof value === 'object' && value !== null).optional(),
  /** Stateful: a session store to use instead of a new one (to read its state from outside). */
  sessionStore: z.instanceof(SessionStore).optional(),
  /** A clock for session expiry, for tests. */
  now: fn<() => number>().optional()
})

export type McpSection = z.output<typeof mcpSectionSchema>
export type McpRoutesOptions = z.input<typeof mcpRoutesOptionsSchema>
export type ParsedMcpRoutesOptions = z.output<typeof mcpRoutesOptionsSchema>
