import bearerAuth from '@fastify/bearer-auth'
import type { FastifyInstance, FastifyReply } from 'fastify'
import type { Registry } from 'prom-client'
import { SecretSet } from '../plugins/auth/compare.js'

export interface MetricsRouteOptions {
  registry: Registry
  path: string
  /** SHA-256 digest of the key that must come as `Authorization: Bearer <key>`; none: open. */
  keyDigest?: Buffer | undefined
}

/** Prometheus text exposition of the server's metrics, optionally behind a key of its own. */
export default async function metricsRoutes (fastify: FastifyInstance, options: MetricsRouteOptions): Promise<void> {
  if (options.keyDigest !== undefined) {
    const keys = new SecretSet([{ digest: options.keyDigest, value: true }])
    await fastify.register(bearerAuth, {
      keys: [],
      specCompliance: 'rfc6749',
      verifyErrorLogLevel: 'debug',
      auth: (key: string) => keys.match(key) === true,
      errorResponse: () => ({ statusCode: 401, code: 'MCP_AUTH_INVALID_CREDENTIALS', error: 'Unauthorized', message: 'invalid credentials' })
    })
  }
  fastify.get(options.path, async (_request, reply: FastifyReply) => {
    reply.header('content-type', options.registry.contentType)
    return await options.registry.metrics()
  })
}
