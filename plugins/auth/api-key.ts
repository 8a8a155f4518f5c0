import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { z } from 'zod'
import { accepted, invalid, missing, quote, type Authenticator } from '../../core/authenticator.js'
import { registerStrategy, type StrategyRegistration } from './hook.js'
import { createBearerReader } from './bearer.js'
import { MIN_STATIC_SECRET_LENGTH, parseOptions, permissionsSchema } from '../../core/options.js'
import { principalSecrets, sha256Field, uniqueIds } from './static-secrets.js'

const keySchema = z.strictObject({
  id: z.string().min(1),
  key: z.string().min(MIN_STATIC_SECRET_LENGTH).optional(),
  sha256: sha256Field('key'),
  permissions: permissionsSchema
}).refine((entry) => (entry.key === undefined) !== (entry.sha256 === undefined), {
  message: 'give exactly one of key, keyFile or sha256'
})

const headerName = z.string().regex(/^[A-Za-z0-9-]+$/, 'expected an HTTP header name')
  .refine((name) => name.toLowerCase() !== 'authorization', 'the key in Authorization is acceptBearer: true')

export const apiKeyOptionsSchema = z.strictObject({
  /** The header that carries the key, or several (Claude's connectors send `x-api-key` or `x-auth-token`); the first one sent decides. */
  header: z.union([headerName, z.array(headerName).min(1)]).default('x-api-key'),
  /** Also accept the key as `Authorization: Bearer <key>`, for clients that can send nothing else. */
  acceptBearer: z.boolean().default(false),
  realm: z.string().min(1).default('mcp'),
  keys: z.array(keySchema).min(1, 'at least one key is required')
}).refine((options) => uniqueIds(options.keys), {
  message: 'key ids must be unique', path: ['keys']
})

export type ApiKeyOptions = z.input<typeof apiKeyOptionsSchema>

/** The first configured header the request carries: the key, the same header sent twice (an array), or undefined. */
function presentedKey (request: FastifyRequest, headerNames: readonly string[]): string | string[] | undefined {
  for (const name of headerNames) {
    const presented = request.headers[name]
    if (presented !== undefined && presented !== '') return presented
  }
  return undefined
}

/**
 * API keys in request headers, several live at once for rotation, and optionally as
 * `Authorization: Bearer <key>`. The challenge stays `ApiKey`: a `Bearer` one would send MCP
 * clients looking for an OAuth authorization server that an API-key deployment does not have.
 */
export async function createApiKeyAuthenticator (fastify: FastifyInstance | undefined, options: ApiKeyOptions): Promise<Authenticator> {
  const { header, realm, keys, acceptBearer } = parseOptions('api-key', apiKeyOptionsSchema, options)
  const headerNames = [header].flat().map((name) => name.toLowerCase())
  const secrets = principalSecrets('api-key', keys.map((entry) => ({ ...entry, secret: entry.key })))
  const challenge = `ApiKey realm=${quote(realm)}, header=${quote(headerNames[0] ?? '')}`
  const readBearer = acceptBearer && fastify !== undefined ? await createBearerReader(fastify, (token) => secrets.match(token)) : undefined

  return {
    strategy: 'api-key',
    credentialHeaders: headerNames,
    authenticate (request: FastifyRequest, reply: FastifyReply) {
      const presented = presentedKey(request, headerNames)
      if (presented === undefined) {
        return readBearer !== undefined && request.headers.authorization !== undefined ? readBearer(request, reply) : missing
      }
      // A repeated header is refused by the hook (400); an array here means it ran without one.
      if (typeof presented !== 'string') return invalid
      const principal = secrets.match(presented)
      return principal === undefined ? invalid : accepted(principal)
    },
    challenge: () => challenge
  }
}

async function apiKeyAuthPlugin (fastify: FastifyInstance, { addHook, ...options }: ApiKeyOptions & StrategyRegistration): Promise<void> {
  registerStrategy(fastify, [await createApiKeyAuthenticator(fastify, options)], { addHook })
}

/** API key in a request header (default `x-api-key`), several keys live at once for rotation. */
export const apiKeyAuth = fp(apiKeyAuthPlugin, { fastify: '5.x', name: 'fastify-mcp-auth-api-key' })
export default apiKeyAuth
