import bearerAuth from '@fastify/bearer-auth'
import type { FastifyInstance, FastifyReply } from 'fastify'
import type { Registry } from 'prom-client'
import { z } from 'zod'
import { errorBody, MCP_AUTH_INVALID_CREDENTIALS } from '../core/errors.js'
import { SecretSet, sha256 } from '../plugins/credentials/compare.js'

/** The `metrics` section. */
export const metricsSectionSchema = z.strictObject({
  enabled: z.boolean().default(false),
  path: z.string().regex(/^\//).default('/metrics'),
  /** Serve metrics on their own port (on `host`) instead of the main server. */
  port: z.coerce.number().int().min(0).max(65535).optional(),
  host: z.string().min(1).default('127.0.0.1'),
  /** Require `Authorization: Bearer <key>`. Also keyFile / sha256. */
  key: z.string().min(16).optional(),
  sha256: z.string().regex(/^[0-9a-fA-F]{64}$/).optional()
})

export interface MetricsRouteOptions {
  registry: Registry
  path: string
  /** The key that must come as `Authorization: Bearer <key>`, or its SHA-256 (hex); neither: open. */
  key?: string | undefined
  sha256?: string | undefined
}

function keyDigest ({ key, sha256: digest }: MetricsRouteOptions): Buffer | undefined {
  if (digest !== undefined) return Buffer.from(digest, 'hex')
  return key === undefined ? undefined : sha256(key)
}

/** Prometheus text exposition of the server's metrics, optionally behind a key of its own. */
export default async function metricsRoutes (fastify: FastifyInstance, options: MetricsRouteOptions): Promise<void> {
  const digest = keyDigest(options)
  if (digest !== undefined) {
    const keys = new SecretSet([{ digest, value: true }])
    await fastify.register(bearerAuth, {
      keys: [],
      specCompliance: 'rfc6749',
      verifyErrorLogLevel: 'debug',
      auth: (key: string) => keys.match(key) === true,
      errorResponse: () => errorBody(new MCP_AUTH_INVALID_CREDENTIALS())
    })
  }
  fastify.get(options.path, async (_request, reply: FastifyReply) => {
    reply.header('content-type', options.registry.contentType)
    return await options.registry.metrics()
  })
}
