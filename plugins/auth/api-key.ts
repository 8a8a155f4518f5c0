import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { z } from 'zod'
import { accepted, invalid, missing, quote, type Authenticator } from '../../core/authenticator.js'
import { registerStrategy, type StrategyRegistration } from './hook.js'
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

export const apiKeyOptionsSchema = z.strictObject({
  header: z.string().regex(/^[A-Za-z0-9-]+$/, 'expected an HTTP header name').default('x-api-key'),
  realm: z.string().min(1).default('mcp'),
  keys: z.array(keySchema).min(1, 'at least one key is required')
}).refine((options) => uniqueIds(options.keys), {
  message: 'key ids must be unique', path: ['keys']
})

export type ApiKeyOptions = z.input<typeof apiKeyOptionsSchema>

export function createApiKeyAuthenticator (_fastify: FastifyInstance | undefined, options: ApiKeyOptions): Authenticator {
  const { header, realm, keys } = parseOptions('api-key', apiKeyOptionsSchema, options)
  const headerName = header.toLowerCase()
  const secrets = principalSecrets('api-key', keys.map((entry) => ({ ...entry, secret: entry.key })))
  const challenge = `ApiKey realm=${quote(realm)}, header=${quote(headerName)}`

  return {
    strategy: 'api-key',
    challengeFamily: 'custom',
    credentialHeaders: [headerName],
    authenticate (request: FastifyRequest) {
      const presented = request.headers[headerName]
      if (presented === undefined || presented === '') return missing
      // A repeated header is refused by the hook (400); an array here means it ran without one.
      if (typeof presented !== 'string') return invalid
      const principal = secrets.match(presented)
      return principal === undefined ? invalid : accepted(principal)
    },
    challenge: () => challenge
  }
}

async function apiKeyAuthPlugin (fastify: FastifyInstance, { addHook, ...options }: ApiKeyOptions & StrategyRegistration): Promise<void> {
  registerStrategy(fastify, [createApiKeyAuthenticator(fastify, options)], { addHook })
}

/** API key in a request header (default `x-api-key`), several keys live at once for rotation. */
export const apiKeyAuth = fp(apiKeyAuthPlugin, { fastify: '5.x', name: 'fastify-mcp-auth-api-key' })
export default apiKeyAuth
