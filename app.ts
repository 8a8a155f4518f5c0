import { readFileSync } from 'node:fs'
import { STATUS_CODES } from 'node:http'
import Fastify, { type FastifyError, type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { pino } from 'pino'
import { challengeScopes, hostRules, mcpOptions, protectedResource, tokenIssuing } from './config/deployment.js'
import { chosenStrategies, isLoopback, type Config } from './config/schema.js'
import { createAuditLog, fanOut, silentAudit, type AuditSink } from './plugins/audit.js'
import type { DeploymentContext } from './plugins/auth/authenticator.js'
import { sha256 } from './plugins/auth/compare.js'
import { configuredAuth } from './plugins/auth/configured.js'
import { redactedPaths, safeErrorSerializer, safeRequestSerializer } from './plugins/logging.js'
import { createMetrics, type Metrics } from './plugins/metrics.js'
import { originHost, type HostCheck } from './plugins/origin-host.js'
import { rateLimits } from './plugins/rate-limits.js'
import healthRoutes from './routes/health.js'
import { createSessionStore, mcpRoutes, type McpRoutesOptions } from './routes/mcp.js'
import metricsRoutes from './routes/metrics.js'
import tokenRoutes from './routes/token.js'
import wellKnownRoutes, { authorizationServerRoutes, resourceMetadataUrl } from './routes/well-known.js'

export interface BuildAppOptions {
  /** Where log lines go (default: stdout). Tests pass a stream to read them. */
  logStream?: NodeJS.WritableStream
  /** Extra options for the MCP routes, such as a custom `createServer`. */
  mcp?: Pick<McpRoutesOptions, 'createServer' | 'now' | 'sessionStore'>
}

/** The separate metrics server, when `metrics.port` is set; server.ts listens on it. */
const metricsApps = new WeakMap<FastifyInstance, { app: FastifyInstance, host: string, port: number }>()
export function metricsAppOf (app: FastifyInstance): { app: FastifyInstance, host: string, port: number } | undefined {
  return metricsApps.get(app)
}

function serverOptions (config: Config, options: BuildAppOptions): FastifyServerOptions & { https?: { key: Buffer, cert: Buffer, ca?: Buffer } } {
  const credentialHeaders = [config.auth.apiKey?.header ?? 'x-api-key']
  const tls = config.server.tls
  // Node checks request timeouts on an interval (30 s by default); short timeouts need a shorter one.
  const requestTimeout = config.server.requestTimeout
  const nodeServer = {
    maxHeaderSize: config.server.maxHeaderSize,
    connectionsCheckingInterval: requestTimeout > 0 ? Math.min(30_000, Math.max(100, Math.floor(requestTimeout / 2))) : 30_000
  }
  return {
    logger: {
      level: config.logger.level,
      redact: { paths: redactedPaths(credentialHeaders), censor: '[redacted]' },
      serializers: { req: safeRequestSerializer, err: safeErrorSerializer },
      ...(options.logStream === undefined ? {} : { stream: options.logStream })
    },
    trustProxy: config.server.trustProxy,
    bodyLimit: config.server.bodyLimit,
    requestTimeout: config.server.requestTimeout,
    connectionTimeout: config.server.connectionTimeout,
    keepAliveTimeout: config.server.keepAliveTimeout,
    http: nodeServer,
    ...(tls === undefined
      ? {}
      : { https: { ...nodeServer, key: readFileSync(tls.keyFile), cert: readFileSync(tls.certFile) } })
  } as FastifyServerOptions
}

/**
 * The audit log's own pino instance, written whatever `logger.level` is: to `audit.file`, or to
 * stdout next to the main log. Writes are batched (up to 4 KiB, flushed every second and at
 * shutdown): one write per event would cost more than the request it records.
 */
function auditSink (config: Config, logStream: NodeJS.WritableStream | undefined): { sink: AuditSink, close: () => Promise<void> } {
  if (!config.audit.enabled) return { sink: silentAudit(), close: async () => {} }
  // No redaction pass: audit events are built from fixed fields and never carry headers or bodies.
  const options = { level: 'info', base: undefined }
  if (config.audit.file === undefined && logStream !== undefined) {
    return { sink: createAuditLog(pino(options, logStream), config.audit), close: async () => {} }
  }
  const destination = pino.destination({ dest: config.audit.file ?? 1, sync: true, minLength: 4096, mkdir: config.audit.file !== undefined })
  const flusher = setInterval(() => { try { destination.flush() } catch { /* not open yet */ } }, 1000)
  flusher.unref()
  return {
    sink: createAuditLog(pino(options, destination), config.audit),
    close: async () => {
      clearInterval(flusher)
      // end() writes what is buffered (once the file is open) and closes it: no event is lost.
      // stdout is flushed, not closed.
      if (config.audit.file === undefined) destination.flushSync()
      else await new Promise<void>((resolve) => { destination.once('close', () => resolve()); destination.end() })
    }
  }
}

/** Builds the whole server from a validated config. It does not listen: see server.ts. */
export async function buildApp (config: Config, options: BuildAppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify(serverOptions(config, options))

  app.setErrorHandler(function replyWithoutInternals (error: FastifyError, request, reply) {
    const status = error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 500
    // Our own 503s (a busy KDF queue, an unreachable store) say what to do; other 5xx text stays in the log.
    if (status === 503 && error.code?.startsWith('MCP_AUTH_') === true) {
      return reply.code(503).header('retry-after', '1').send({ statusCode: 503, code: error.code, error: STATUS_CODES[503], message: error.message })
    }
    if (status >= 500) {
      request.log.error({ err: error }, 'request failed')
      return reply.code(500).send({ statusCode: 500, code: 'MCP_AUTH_INTERNAL', error: 'Internal Server Error', message: 'internal error' })
    }
    return reply.code(status).send({ statusCode: status, code: error.code, error: STATUS_CODES[status], message: error.message })
  })

  // Fastify's own 404 handler writes the full URL to the log: a credential a client put in the
  // query string would be written down with it. This one names the path only, and logs nothing.
  app.setNotFoundHandler(function notFound (request, reply) {
    const path = request.url.split('?')[0] ?? ''
    return reply.code(404).send({ statusCode: 404, code: 'MCP_AUTH_NOT_FOUND', error: 'Not Found', message: `no route for ${request.method} ${path}` })
  })

  // Graceful shutdown: requests in flight when closing starts still finish, and their connections
  // then close instead of idling until keepAliveTimeout (which would hold the shutdown open).
  let closing = false
  app.addHook('preClose', async () => { closing = true })
  app.addHook('onSend', function closeAfterShutdown (_request, reply, payload, done) {
    if (closing) reply.header('connection', 'close')
    done(null, payload)
  })

  // Known once the Host check is registered (below); URLs are built from the Host only if it names hosts.
  let hostCheck: HostCheck | undefined
  const hostCheckedByName = (): boolean => hostCheck?.byName() ?? false
  const metadata = protectedResource(config, hostCheckedByName)
  const routeOptions: McpRoutesOptions = { ...mcpOptions(config, metadata), ...options.mcp }
  const sessionStore = routeOptions.sessionStore ?? (config.mcp.sessions === 'stateful' ? createSessionStore(routeOptions) : undefined)
  const audit = auditSink(config, options.logStream)
  app.addHook('onClose', async () => { await audit.close() })
  let metrics: Metrics | undefined
  let sink = audit.sink
  if (config.metrics.enabled) {
    metrics = createMetrics(sessionStore === undefined ? {} : { sessions: () => sessionStore.size })
    sink = fanOut(audit.sink, metrics.sink)
    const observe = metrics.observeRequest
    app.addHook('onResponse', async (request, reply) => {
      observe(request.routeOptions.url ?? 'unmatched', request.method, reply.statusCode, reply.elapsedTime / 1000)
    })
  }

  const issuing = tokenIssuing(config, app.log, hostCheckedByName)
  const context: DeploymentContext = {
    ...(metadata === undefined ? {} : { resourceMetadataUrl: (request) => resourceMetadataUrl(request, metadata), challengeScopes: challengeScopes(config, metadata) }),
    ...(issuing === undefined ? {} : { isRevoked: issuing.isRevoked })
  }
  const readiness: Array<{ name: string, ready: () => Promise<boolean> }> = []

  if (issuing !== undefined) {
    app.addHook('onClose', async () => { await issuing.store.close() })
    if (!await issuing.connected) app.log.warn('the token store (Redis) is not reachable yet: token requests get 503 until it is')
    if (config.store.redisUrl !== undefined) readiness.push({ name: 'token store', ready: () => issuing.store.ready() })
  }

  // Everything clients reach (the MCP endpoint, the metadata documents, the token endpoint)
  // answers only to the Host names it should: DNS-rebinding protection, before anything else.
  // Health and metrics stay outside (probes address the server by its IP).
  await app.register(async function publicApi (api) {
    // One set of counters for the whole API: a failed login at the token endpoint counts for the MCP endpoint too.
    const limits = await rateLimits(api, {
      perPrincipal: config.rateLimit.max === undefined ? undefined : { max: config.rateLimit.max, timeWindow: config.rateLimit.timeWindow },
      tools: config.rateLimit.tools,
      failedAuth: config.rateLimit.failedAuth === false ? undefined : config.rateLimit.failedAuth,
      redisUrl: config.rateLimit.redisUrl,
      audit: sink
    })
    if (config.rateLimit.redisUrl !== undefined) readiness.push({ name: 'rate-limit store', ready: limits.ready })
    api.addHook('onClose', async () => { await limits.close() })
    await api.register(async function oauthDocuments (documents) {
      // Read cross-origin by design (no Origin check); refusals in each route's own error format.
      await documents.register(originHost, { ...hostRules(config), origins: false, answer: 'error' })
      hostCheck = documents.mcpAuthHostChecked
      if (issuing !== undefined) {
        await documents.register(tokenRoutes, { ...issuing.routes, audit: sink, throttle: limits.throttle })
        if (issuing.metadata !== undefined) await documents.register(authorizationServerRoutes, issuing.metadata)
      }
      if (metadata !== undefined) await documents.register(wellKnownRoutes, metadata)
    })
    await api.register(async function protectedMcp (scope) {
      // Host and Origin are checked before any credential is: a foreign page never counts as a failed login.
      await scope.register(originHost, hostRules(config))
      await scope.register(configuredAuth, { auth: config.auth, context, hook: { audit: sink, throttle: limits.throttle } })
      limits.addPrincipalLimits(scope)
      await scope.register(mcpRoutes, { ...routeOptions, audit: sink, ...(sessionStore === undefined ? {} : { sessionStore }) })
    })
  })
  await app.register(healthRoutes, { checks: readiness })

  if (metrics !== undefined) {
    const keyDigest = config.metrics.sha256 !== undefined ? Buffer.from(config.metrics.sha256, 'hex') : config.metrics.key === undefined ? undefined : sha256(config.metrics.key)
    const routeOptions = { registry: metrics.registry, path: config.metrics.path, keyDigest }
    if (config.metrics.port === undefined) {
      await app.register(metricsRoutes, routeOptions)
    } else {
      const metricsApp = Fastify({ logger: false })
      await metricsApp.register(metricsRoutes, routeOptions)
      metricsApps.set(app, { app: metricsApp, host: config.metrics.host, port: config.metrics.port })
      app.addHook('onClose', async () => { await metricsApp.close() })
    }
  }

  if (chosenStrategies(config.auth.strategy).includes('none')) {
    app.log.warn('authentication is OFF (strategy none): anyone who can reach this address can use every tool; for local development only')
  }
  if (!isLoopback(config.server.host) && config.server.tls === undefined && config.server.trustProxy === false) {
    app.log.warn(`SECURITY: serving plain HTTP on ${config.server.host}: credentials cross the network unencrypted. Configure server.tls, or terminate TLS at a proxy and set server.trustProxy`)
  }
  return app
}
