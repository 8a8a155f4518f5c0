import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { z } from 'zod'
import { accepted, invalid, missing, quote, type Authenticator } from './authenticator.js'
import { SecretSet, sha256 } from './compare.js'
import { addAuthHook } from './hook.js'
import { MIN_STATIC_SECRET_LENGTH, parseOptions, permissionsSchema } from './options.js'
import { frozenPrincipal, type Principal } from './principal.js'

const keySchema = z.strictObject({
  id: z.string().min(1),
  key: z.string().min(MIN_STATIC_SECRET_LENGTH).optional(),
  sha256: z.string().regex(/^[0-9a-fA-F]{64}$/, 'expected 64 hex digits (the SHA-256 of the key)').optional(),
  permissions: permissionsSchema
}).refine((entry) => (entry.key === undefined) !== (entry.sha256 === undefined), {
  message: 'give exactly one of key, keyFile or sha256'
})

export const apiKeyOptionsSchema = z.strictObject({
  header: z.string().regex(/^[A-Za-z0-9-]+$/, 'expected an HTTP header name').default('x-api-key'),
  realm: z.string().min(1).default('mcp'),
  keys: z.array(keySchema).min(1, 'at least one key is required')
}).refine((options) => new Set(options.keys.map((k) => k.id)).size === options.keys.length, {
  message: 'key ids must be unique', path: ['keys']
})

export type ApiKeyOptions = z.input<typeof apiKeyOptionsSchema>

export function createApiKeyAuthenticator (_fastify: FastifyInstance | undefined, options: ApiKeyOptions): Authenticator {
  const { header, realm, keys } = parseOptions('api-key', apiKeyOptionsSchema, options)
  const headerName = header.toLowerCase()
  const secrets = new SecretSet<Principal>(keys.map((entry) => ({
    digest: entry.sha256 !== undefined ? Buffer.from(entry.sha256, 'hex') : sha256(entry.key ?? ''),
    value: frozenPrincipal({ id: entry.id, strategy: 'api-key', permissions: [...entry.permissions] })
  })))
  const challenge = `ApiKey realm=${quote(realm)}, header=${quote(headerName)}`

  return {
    strategy: 'api-key',
    authenticate (request: FastifyRequest) {
      const presented = request.headers[headerName]
      if (presented === undefined || presented === '') return missing
      // A repeated header arrives as an array: ambiguous, so refused.
      if (typeof presented !== 'string') return invalid
      const principal = secrets.match(presented)
      return principal === undefined ? invalid : accepted(principal)
    },
    challenge: () => challenge
  }
}

async function apiKeyAuthPlugin (fastify: FastifyInstance, options: ApiKeyOptions): Promise<void> {
  addAuthHook(fastify, [createApiKeyAuthenticator(fastify, options)])
}

/** API key in a request header (default `x-api-key`), several keys live at once for rotation. */
export const apiKeyAuth = fp(apiKeyAuthPlugin, { fastify: '5.x', name: 'fastify-mcp-auth-api-key' })
export default apiKeyAuth
