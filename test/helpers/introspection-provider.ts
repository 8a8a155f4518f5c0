import { generateKeyPairSync, randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import Provider from 'oidc-provider'
import { CLIENT_ID, CLIENT_SECRET } from './oidc-provider.js'

/** The resource server's clients at the authorization server, one per client authentication method. */
export const BASIC_CLIENT = { clientId: 'calculator-rs-basic', clientSecret: 'rs secret:+/&=%~0123456789abcdef' }
export const PKJWT_CLIENT_ID = 'calculator-rs-pkjwt'
export const PKJWT_KEY_ID = 'rs-key-1'

export interface AuthorizationServer {
  issuer: string
  introspectionEndpoint: string
  /** The private_key_jwt client's private key (PKCS#8 PEM, EC P-256). */
  pkjwtPrivateKey: string
  /** An opaque client-credentials access token with `scope`, for `resource` (none: a token without `aud`). */
  token: (scope: string, resource?: string) => Promise<string>
  /** Revokes a token at the server (RFC 7009). */
  revoke: (token: string) => Promise<void>
  /** Introspection requests the server has received. */
  introspections: () => number
  /**
   * Holds every introspection request from now on until `release()`; `arrived` resolves when the
   * first one is held. For calls that must be in flight together, and for a server that never answers.
   */
  hold: () => { arrived: Promise<void>, release: () => void }
  /** Lets the process exit while the server is still open (for fixtures nobody closes). */
  unref: () => void
  close: () => Promise<void>
}

function signingKey (): Record<string, unknown> {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  return { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg: 'RS256', use: 'sig' }
}

function basic (id: string, secret: string): string {
  const encode = (value: string) => new URLSearchParams([['', value]]).toString().slice(1)
  return 'Basic ' + Buffer.from(`${encode(id)}:${encode(secret)}`).toString('base64')
}

function providerFor (issuer: string, scopes: string, rsPublicJwk: Record<string, unknown>, accessTokenTTL: number): Provider {
  const resourceServers = [BASIC_CLIENT.clientId, PKJWT_CLIENT_ID]
  return new Provider(issuer, {
    clients: [
      { client_id: CLIENT_ID, client_secret: CLIENT_SECRET, grant_types: ['client_credentials'], redirect_uris: [], response_types: [] },
      { client_id: BASIC_CLIENT.clientId, client_secret: BASIC_CLIENT.clientSecret, token_endpoint_auth_method: 'client_secret_basic', grant_types: [], redirect_uris: [], response_types: [] },
      { client_id: PKJWT_CLIENT_ID, token_endpoint_auth_method: 'private_key_jwt', token_endpoint_auth_signing_alg: 'ES256', jwks: { keys: [rsPublicJwk] }, grant_types: [], redirect_uris: [], response_types: [] }
    ],
    jwks: { keys: [signingKey()] },
    scopes: scopes.split(' '),
    features: {
      clientCredentials: { enabled: true },
      devInteractions: { enabled: false },
      revocation: { enabled: true },
      // Only the resource servers may introspect (the default lets any authenticated client).
      introspection: { enabled: true, allowedPolicy: async (_ctx, client) => resourceServers.includes(client.clientId) },
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => undefined,
        useGrantedResource: async () => false,
        getResourceServerInfo: async (_ctx, resource) => ({ audience: resource, scope: scopes, accessTokenTTL, accessTokenFormat: 'opaque' })
      }
    }
  })
}

/**
 * A real OAuth 2 authorization server (panva/oidc-provider) on loopback that issues opaque
 * client-credentials access tokens and introspects them (RFC 7662) for two resource-server
 * clients: one with client_secret_basic, one with private_key_jwt (RFC 7523). Tokens for a
 * resource live `accessTokenTtl` seconds.
 */
export async function startAuthorizationServer (scopes: string, { accessTokenTtl = 300 }: { accessTokenTtl?: number } = {}): Promise<AuthorizationServer> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const rsPublicJwk = { ...publicKey.export({ format: 'jwk' }), kid: PKJWT_KEY_ID, alg: 'ES256', use: 'sig' }
  let introspections = 0
  let held: Array<() => void> | undefined
  let arrived: (() => void) | undefined
  // The provider needs the issuer, which needs the port: it is set once the server listens.
  const ready: { provider?: Provider } = {}
  const handle = (request: IncomingMessage, response: ServerResponse): void => { if (ready.provider !== undefined) void ready.provider.callback()(request, response) }
  const server: Server = createServer((request, response) => {
    if (request.method === 'POST' && request.url === '/token/introspection') {
      introspections++
      if (held !== undefined) {
        held.push(() => handle(request, response))
        arrived?.()
        return
      }
    }
    handle(request, response)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  ready.provider = providerFor(issuer, scopes, rsPublicJwk, accessTokenTtl)

  async function post (path: string, form: Record<string, string>): Promise<Record<string, unknown>> {
    const response = await fetch(`${issuer}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(CLIENT_ID, CLIENT_SECRET) },
      body: new URLSearchParams(form)
    })
    const text = await response.text()
    if (!response.ok) throw new Error(`${path}: HTTP ${response.status} ${text}`)
    return text === '' ? {} : JSON.parse(text) as Record<string, unknown>
  }

  return {
    issuer,
    introspectionEndpoint: `${issuer}/token/introspection`,
    pkjwtPrivateKey: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    token: async (scope, resource) => {
      const body = await post('/token', { grant_type: 'client_credentials', scope, ...(resource === undefined ? {} : { resource }) })
      if (typeof body.access_token !== 'string') throw new Error('the token response has no access_token')
      return body.access_token
    },
    revoke: async (token) => { await post('/token/revocation', { token, token_type_hint: 'access_token' }) },
    introspections: () => introspections,
    hold: () => {
      const waiting: Array<() => void> = []
      held = waiting
      const first = new Promise<void>((resolve) => { arrived = resolve })
      return { arrived: first, release: () => { held = undefined; for (const go of waiting.splice(0)) go() } }
    },
    unref: () => {
      server.unref()
      server.on('connection', (socket) => socket.unref())
    },
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}
