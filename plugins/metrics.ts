import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { AuditSink } from './audit.js'

/**
 * Prometheus metrics (prom-client) in a registry of their own, fed by the same events as the
 * audit log plus request timings.
 */
export function createMetrics (options: { sessions?: () => number } = {}) {
  const registry = new Registry()
  const authAttempts = new Counter({ name: 'mcp_auth_attempts_total', help: 'Authentication attempts', labelNames: ['strategy', 'outcome', 'reason'] as const, registers: [registry] })
  const toolCalls = new Counter({ name: 'mcp_tool_calls_total', help: 'Tool calls', labelNames: ['tool', 'outcome'] as const, registers: [registry] })
  const rateLimited = new Counter({ name: 'mcp_rate_limited_total', help: 'Requests refused by a rate limit', labelNames: ['limit'] as const, registers: [registry] })
  const requestDuration = new Histogram({
    name: 'mcp_http_request_duration_seconds',
    help: 'HTTP request latency',
    labelNames: ['route', 'method', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry]
  })
  const sessions = options.sessions
  if (sessions !== undefined) {
    const gauge = new Gauge({ name: 'mcp_active_sessions', help: 'Open stateful MCP sessions', registers: [registry], collect () { this.set(sessions()) } })
    void gauge
  }

  const sink: AuditSink = {
    includeArguments: false,
    auth: (_request, event) => { authAttempts.inc({ strategy: event.strategy, outcome: event.outcome, reason: event.reason ?? 'none' }) },
    tool: (_request, event) => { toolCalls.inc({ tool: event.tool, outcome: event.outcome }) },
    rateLimited: (_request, limit) => { rateLimited.inc({ limit }) }
  }
  return {
    registry,
    sink,
    observeRequest: (route: string, method: string, status: number, seconds: number) => { requestDuration.observe({ route, method, status: String(status) }, seconds) }
  }
}

export type Metrics = ReturnType<typeof createMetrics>

declare module 'fastify' {
  interface FastifyInstance {
    /** The Prometheus registry and the audit listener that feeds it, when metrics are on. */
    mcpAuthMetrics: Metrics
  }
}

export interface MetricsOptions {
  /** The number of open stateful sessions, for a gauge. */
  sessions?: (() => number) | undefined
}

/** Metrics for the app: request timings of every route, and (through `mcpAuthMetrics.sink`) auth, tool and limit events. */
async function metricsPlugin (fastify: FastifyInstance, options: MetricsOptions): Promise<void> {
  const metrics = createMetrics(options.sessions === undefined ? {} : { sessions: options.sessions })
  fastify.addHook('onResponse', async (request, reply) => {
    metrics.observeRequest(request.routeOptions.url ?? 'unmatched', request.method, reply.statusCode, reply.elapsedTime / 1000)
  })
  fastify.decorate('mcpAuthMetrics', metrics)
}

export const metrics = fp(metricsPlugin, { fastify: '5.x', name: 'fastify-mcp-auth-metrics' })
export default metrics
