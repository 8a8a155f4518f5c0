import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { AuditSink } from '../plugins/audit.js'
import { PUBLIC_CLIENT_AUTH_METHOD, type CodeFlowClientDirectory } from '../plugins/token-issuer/code-flow-clients.js'
import { isAllowedRedirectUri } from '../plugins/token-issuer/redirect-uris.js'

export const REGISTRATION_PATH = '/oauth/register'
const REGISTRATION_BODY_LIMIT = 8 * 1024
const MAX_REDIRECT_URIS = 10

export interface RegistrationRoutesOptions {
  clients: CodeFlowClientDirectory
  /** How long a registration lives, in ms. */
  ttl: number
  /** Registrations per client address per `timeWindow` (ms). */
  max: number
  timeWindow: number
  audit?: AuditSink | undefined
}

class RegistrationError extends Error {
  // eslint-disable-next-line n/handle-callback-err -- RFC 7591's name for the error code
  constructor (readonly error: 'invalid_redirect_uri' | 'invalid_client_metadata', description: string) {
    super(description)
  }
}

function stringList (value: unknown, name: string): string[] | undefined {
  if (value === undefined) return undefined
  if (!Array.isArray(value) || !value.every((item): item is string => typeof item === 'string')) throw new RegistrationError('invalid_client_metadata', `${name} must be an array of strings`)
  return value
}

/** RFC 7591 §2 metadata of a public client, or the error that says what is wrong with it. */
function registration (body: unknown): { name: string, redirectUris: string[], scope?: string } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new RegistrationError('invalid_client_metadata', 'send the client metadata as a JSON object')
  const fields = body as Record<string, unknown>
  const redirectUris = stringList(fields.redirect_uris, 'redirect_uris') ?? []
  if (redirectUris.length === 0 || redirectUris.length > MAX_REDIRECT_URIS) throw new RegistrationError('invalid_redirect_uri', `give 1 to ${MAX_REDIRECT_URIS} redirect_uris`)
  if (!redirectUris.every((uri) => uri.length <= 2000 && isAllowedRedirectUri(uri))) throw new RegistrationError('invalid_redirect_uri', 'redirect_uris must be https URLs, or http on a loopback host (127.0.0.1, [::1], localhost), without a fragment')
  const method = fields.token_endpoint_auth_method
  if (method !== undefined && method !== PUBLIC_CLIENT_AUTH_METHOD) throw new RegistrationError('invalid_client_metadata', 'only public clients register here: token_endpoint_auth_method must be none')
  if (!(stringList(fields.grant_types, 'grant_types') ?? []).every((grant) => grant === 'authorization_code' || grant === 'refresh_token')) throw new RegistrationError('invalid_client_metadata', 'grant_types: authorization_code and refresh_token only')
  if (!(stringList(fields.response_types, 'response_types') ?? []).every((type) => type === 'code')) throw new RegistrationError('invalid_client_metadata', 'response_types: code only')
  const name = fields.client_name
  if (name !== undefined && (typeof name !== 'string' || name.length === 0 || name.length > 100)) throw new RegistrationError('invalid_client_metadata', 'client_name must be a string of 1 to 100 characters')
  const scope = typeof fields.scope === 'string' ? { scope: fields.scope } : {}
  return { name: typeof name === 'string' ? name : 'Unnamed application', redirectUris, ...scope }
}

/**
 * RFC 7591 dynamic client registration, for MCP clients that register themselves (mcp-remote,
 * the SDK): public clients only (PKCE, no secret), redirect URIs https or loopback http, stored in
 * the token store for `ttl`, and limited per client address.
 */
export default async function registrationRoutes (fastify: FastifyInstance, options: RegistrationRoutesOptions): Promise<void> {
  const limiter = fastify.createRateLimit({ max: options.max, timeWindow: options.timeWindow, keyGenerator: (request) => `register:${request.ip}` })
  fastify.setErrorHandler((error: Error & { statusCode?: number }, _request, reply) => {
    if (error instanceof RegistrationError) return reply.code(400).send({ error: error.error, error_description: error.message })
    const status = error.statusCode ?? 500
    if (status >= 500) throw error
    return reply.code(status === 413 ? 413 : 400).send({ error: 'invalid_client_metadata', error_description: status === 413 ? 'request body is too large' : 'send the client metadata as a JSON object' })
  })
  fastify.post(REGISTRATION_PATH, { bodyLimit: REGISTRATION_BODY_LIMIT }, async (request: FastifyRequest, reply: FastifyReply) => {
    reply.header('cache-control', 'no-store')
    const limit = await limiter(request)
    if (!limit.isAllowed && limit.isExceeded) {
      options.audit?.rateLimited(request, 'registration')
      return reply.code(429).header('retry-after', String(Math.max(1, limit.ttlInSeconds))).send({ error: 'temporarily_unavailable', error_description: 'too many registrations from this address' })
    }
    const metadata = registration(request.body)
    const client = await options.clients.register({ name: metadata.name, redirectUris: metadata.redirectUris }, options.ttl)
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
