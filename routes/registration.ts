import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { AuditSink } from '../plugins/audit.js'
import { retryAfterOf } from '../plugins/rate-limits.js'
import { PUBLIC_CLIENT_AUTH_METHOD, type CodeFlowClientDirectory } from '../plugins/token-issuer/code-flow-clients.js'
import { ClientMetadataProblem, publicClientMetadata } from '../plugins/token-issuer/client-metadata.js'

export const REGISTRATION_PATH = '/oauth/register'
const REGISTRATION_BODY_LIMIT = 8 * 1024

export interface RegistrationRoutesOptions {
  clients: CodeFlowClientDirectory
  /** How long a registration lives, in ms. */
  ttl: number
  /** Registrations per client address per `timeWindow` (ms). */
  max: number
  timeWindow: number
  audit?: AuditSink | undefined
}

/**
 * RFC 7591 dynamic client registration, for MCP clients that register themselves (mcp-remote,
 * the SDK): public clients only (PKCE, no secret), redirect URIs https or loopback http, stored in
 * the token store for `ttl`, and limited per client address.
 */
export default async function registrationRoutes (fastify: FastifyInstance, options: RegistrationRoutesOptions): Promise<void> {
  const limiter = fastify.createRateLimit({ max: options.max, timeWindow: options.timeWindow, keyGenerator: (request) => `register:${request.ip}` })
  fastify.setErrorHandler((error: Error & { statusCode?: number }, _request, reply) => {
    if (error instanceof ClientMetadataProblem) return reply.code(400).send({ error: error.error, error_description: error.message })
    const status = error.statusCode ?? 500
    if (status >= 500) throw error
    return reply.code(status === 413 ? 413 : 400).send({ error: 'invalid_client_metadata', error_description: status === 413 ? 'request body is too large' : 'send the client metadata as a JSON object' })
  })
  fastify.post(REGISTRATION_PATH, { bodyLimit: REGISTRATION_BODY_LIMIT }, async (request: FastifyRequest, reply: FastifyReply) => {
    reply.header('cache-control', 'no-store')
    const retryAfter = await retryAfterOf(limiter, request)
    if (retryAfter !== undefined) {
      options.audit?.rateLimited(request, 'registration')
      return reply.code(429).header('retry-after', String(retryAfter)).send({ error: 'temporarily_unavailable', error_description: 'too many registrations from this address' })
    }
    const metadata = publicClientMetadata(request.body)
    const client = await options.clients.register({ name: metadata.name ?? 'Unnamed application', redirectUris: metadata.redirectUris }, options.ttl)
    request.log.info({ event: 'client_registration', principal: client.id }, 'client registered')
    return reply.code(201).send({
      client_id: client.id,
      client_id_issued_at: Math.floor(Date.now() / 1000),
      client_name: client.name,
      redirect_uris: client.redirectUris,
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: PUBLIC_CLIENT_AUTH_METHOD,
      ...(metadata.scope === undefined ? {} : { scope: metadata.scope })
    })
  })
}
