import { generateKeyPairSync, randomUUID } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import Provider from 'oidc-provider'

export const CLIENT_ID = 'calculator-client'
export const CLIENT_SECRET = 'calculator-client-secret-0123456789abcdef'

export interface IdentityProvider {
  issuer: string
  jwksUrl: string
  /** JWKS fetches seen by the provider. */
  jwksFetches: () => number
  /** A client-credentials access token for `resource` with `scope`. */
  token: (scope: string, resource: string) => Promise<string>
  /** Replaces the signing key (the old one stays published), as a provider's rotation does. */
  rotateKey: () => Promise<void>
  close: () => Promise<void>
}

function signingKey (): Record<string, unknown> {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  return { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg: 'RS256', use: 'sig' }
}

/**
 * A real OAuth 2 authorization server (panva/oidc-provider) on loopback: client credentials,
 * resource indicators (RFC 8707) and JWT access tokens (RFC 9068), signed with RS256.
 */
export async function startIdentityProvider (resourceScopes: string): Promise<IdentityProvider> {
  let fetches = 0
  let keys = [signingKey()]
  let provider: Provider | undefined
  const server: Server = createServer((request, response) => {
    if (request.url?.startsWith('/jwks') === true) fetches++
    if (provider === undefined) throw new Error('provider not ready')
    void provider.callback()(request, response)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

  const build = (): Provider => new Provider(issuer, {
    clients: [{ client_id: CLIENT_ID, client_secret: CLIENT_SECRET, grant_types: ['client_credentials'], redirect_uris: [], response_types: [] }],
    jwks: { keys },
    scopes: resourceScopes.split(' '),
    features: {
      clientCredentials: { enabled: true },
      devInteractions: { enabled: false },
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => undefined,
        useGrantedResource: async () => false,
        getResourceServerInfo: async (_ctx, resource) => ({
          audience: resource,
          scope: resourceScopes,
          accessTokenTTL: 300,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } }
        })
      }
    }
  })
  provider = build()

  return {
    issuer,
    jwksUrl: `${issuer}/jwks`,
    jwksFetches: () => fetches,
    token: async (scope, resource) => {
      const response = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: 'Basic ' + Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')
        },
        body: new URLSearchParams({ grant_type: 'client_credentials', scope, resource })
      })
      const body = await response.json() as { access_token?: string, error?: string, error_description?: string }
      if (body.access_token === undefined) throw new Error(`token request failed: ${body.error ?? response.status} ${body.error_description ?? ''}`)
      return body.access_token
    },
    rotateKey: async () => {
      keys = [signingKey(), ...keys]
      provider = build()
    },
    close: async () => { await new Promise<void>((resolve) => server.close(() => resolve())) }
  }
}
