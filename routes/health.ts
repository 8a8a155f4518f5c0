import type { FastifyInstance } from 'fastify'

export interface HealthOptions {
  /** Dependencies that must answer for the server to take traffic (Redis, when configured). */
  checks?: ReadonlyArray<{ name: string, ready: () => Promise<boolean> }>
}

/**
 * `/healthz`: the process is up (liveness). `/readyz`: it should get traffic (readiness): 503
 * while a dependency cannot be reached or the server is shutting down. No authentication.
 */
export default async function healthRoutes (fastify: FastifyInstance, options: HealthOptions): Promise<void> {
  let draining = false
  fastify.addHook('preClose', async () => { draining = true })
  fastify.get('/healthz', async () => ({ status: 'ok' }))
  fastify.get('/readyz', async (_request, reply) => {
    const results = await Promise.all((options.checks ?? []).map(async (check) => [check.name, await check.ready().catch(() => false)] as const))
    const failing = results.filter(([, ready]) => !ready).map(([name]) => name)
    if (draining) failing.push('shutting down')
    reply.header('cache-control', 'no-store')
    if (failing.length > 0) return reply.code(503).send({ status: 'unavailable', failing })
    return { status: 'ready' }
  })
}
