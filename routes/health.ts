import type { FastifyInstance } from 'fastify'

/** Liveness: the process is up and serving HTTP. No authentication. */
export default async function healthRoutes (fastify: FastifyInstance): Promise<void> {
  fastify.get('/healthz', async () => ({ status: 'ok' }))
}
