import { TestPki } from './certificates.js'
import { hashPassword } from '../../plugins/credentials/password-hash.js'
import { createTokenSigner } from '../../plugins/auth/jwt-signer.js'

/** Test-only secrets; long enough for every strategy's minimum. */
export const API_KEY = 'test-api-key-0123456789abcdefghijklmnop'
export const BEARER_TOKEN = 'test-bearer-token-0123456789abcdefghijk'
export const JWT_SECRET = 'test-jwt-secret-0123456789abcdefghijklmnopqrstuvwxyz'
export const BASIC_USER = 'zoë'
export const BASIC_PASSWORD = 'pässwörd ✓ with spaces'

/** A cheap scrypt cost for tests (the default costs ~25 ms per hash). */
export const FAST_SCRYPT = { N: 1024, r: 8, p: 1 }

export const JWT_ISSUER = 'https://issuer.test'
export const JWT_AUDIENCE = 'https://calc.test/mcp'

export function basicHeader (user: string, password: string): string {
  return 'Basic ' + Buffer.from(`${user}:${password}`, 'utf8').toString('base64')
}

export const jwtSection = { secret: JWT_SECRET, issuer: JWT_ISSUER, audience: JWT_AUDIENCE }

export function jwtFor (sub: string, permissions: string[], ttl = 60_000): string {
  return createTokenSigner(jwtSection)({ sub, permissions, ttl }).token
}

/** The resource the introspection fixture's tokens are for: servers under test have no publicUrl, so any fixed URL will do. */
const INTROSPECTION_AUDIENCE = 'https://calc.test/mcp'
let introspectionFixture: Promise<{ token: string, section: Record<string, unknown> }> | undefined

/**
 * One authorization server per test process for the introspection fixture, started on first use
 * and unref'd (nothing closes it; it must not keep the process alive), with one token for every
 * tool. The token lives an hour: the conformance run uses it for minutes.
 */
async function introspectionServer (): Promise<{ token: string, section: Record<string, unknown> }> {
  introspectionFixture ??= (async () => {
    // Imported here: oidc-provider is loaded only by the tests that use this fixture.
    const { BASIC_CLIENT, startAuthorizationServer } = await import('./introspection-provider.js')
    const as = await startAuthorizationServer('calculator:*', { accessTokenTtl: 3600 })
    as.unref()
    const section = { introspectionEndpoint: as.introspectionEndpoint, issuer: as.issuer, audience: INTROSPECTION_AUDIENCE, clientId: BASIC_CLIENT.clientId, clientSecret: BASIC_CLIENT.clientSecret }
    return { token: await as.token('calculator:*', INTROSPECTION_AUDIENCE), section }
  })()
  return await introspectionFixture
}
let introspectionToken = ''

export interface StrategyFixture {
  name: string
  /** The `auth` section of a config. */
  auth: () => Promise<Record<string, unknown>>
  /** Headers that authenticate as a principal with every permission. */
  headers: () => Record<string, string>
  /** The scheme of the challenge a refused request gets. */
  challenge: RegExp
}

/** Every strategy, configured for the shared end-to-end suite. Adding a strategy adds one entry. */
export const strategyFixtures: StrategyFixture[] = [
  {
    name: 'api-key',
    auth: async () => ({ strategy: 'api-key', apiKey: { keys: [{ id: 'k', key: API_KEY, permissions: ['*'] }] } }),
    headers: () => ({ 'x-api-key': API_KEY }),
    challenge: /^ApiKey realm="mcp", header="x-api-key"$/
  },
  {
    name: 'bearer',
    auth: async () => ({ strategy: 'bearer', bearer: { tokens: [{ id: 't', token: BEARER_TOKEN, permissions: ['*'] }] } }),
    headers: () => ({ authorization: `Bearer ${BEARER_TOKEN}` }),
    challenge: /^Bearer realm="mcp"$/
  },
  {
    name: 'basic',
    auth: async () => ({
      strategy: 'basic',
      basic: { users: [{ username: BASIC_USER, passwordHash: await hashPassword(BASIC_PASSWORD, FAST_SCRYPT), permissions: ['*'] }] }
    }),
    headers: () => ({ authorization: basicHeader(BASIC_USER, BASIC_PASSWORD) }),
    challenge: /^Basic realm="mcp", charset="UTF-8"$/
  },
  {
    name: 'jwt',
    auth: async () => ({ strategy: 'jwt', jwt: jwtSection }),
    headers: () => ({ authorization: `Bearer ${jwtFor('alice', ['*'])}` }),
    challenge: /^Bearer realm="mcp", resource_metadata="http:\/\/127\.0\.0\.1:\d+\/\.well-known\/oauth-protected-resource\/mcp", scope="calculator:add [^"]+"$/
  },
  {
    name: '[jwt, api-key] (a list; the API key is used)',
    auth: async () => ({ strategy: ['jwt', 'api-key'], jwt: jwtSection, apiKey: { keys: [{ id: 'k', key: API_KEY, permissions: ['*'] }] } }),
    headers: () => ({ 'x-api-key': API_KEY }),
    challenge: /^Bearer realm="mcp", resource_metadata="[^"]+", scope="[^"]+", ApiKey realm="mcp", header="x-api-key"$/
  },
  {
    name: 'trusted-header',
    auth: async () => ({ strategy: 'trusted-header', trustedHeader: { proxies: ['127.0.0.1'], users: [{ id: 'ada', permissions: ['*'] }] } }),
    headers: () => ({ 'x-forwarded-user': 'ada' }),
    challenge: /^TrustedHeader realm="mcp", header="x-forwarded-user"$/
  },
  {
    name: 'introspection',
    auth: async () => {
      const { token, section } = await introspectionServer()
      introspectionToken = token
      return { strategy: 'introspection', introspection: section }
    },
    headers: () => ({ authorization: `Bearer ${introspectionToken}` }),
    challenge: /^Bearer realm="mcp", resource_metadata="http:\/\/127\.0\.0\.1:\d+\/\.well-known\/oauth-protected-resource\/mcp", scope="calculator:add [^"]+"$/
  },
  mtlsFixture()
]

/** mtls with the certificate a TLS-terminating proxy (loopback here) forwards: the shared suite speaks plain HTTP. */
function mtlsFixture (): StrategyFixture {
  let forwarded = ''
  return {
    name: 'mtls (a certificate forwarded by the proxy)',
    auth: async () => {
      const certificate = await (await TestPki.create()).issue({ subject: { CN: 'e2e-agent' } })
      forwarded = certificate.rfc9440
      return { strategy: 'mtls', mtls: { clients: [{ id: 'e2e-agent', subject: { CN: 'e2e-agent' }, permissions: ['*'] }], forwarded: { proxies: ['127.0.0.1'] } } }
    },
    headers: () => ({ 'client-cert': forwarded }),
    challenge: /^ClientCertificate realm="mcp"$/
  }
}
