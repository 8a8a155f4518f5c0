import t from 'tap'
import { Client, PrivateKeyJwtProvider, StreamableHTTPClientTransport, type OAuthDiscoveryState } from '@modelcontextprotocol/client'
import { Client as LegacyClient } from '@modelcontextprotocol/sdk/client/index.js'
import { PrivateKeyJwtProvider as LegacyPrivateKeyJwtProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js'
import type { OAuthDiscoveryState as LegacyDiscoveryState } from '@modelcontextprotocol/sdk/client/auth.js'
import { StreamableHTTPClientTransport as LegacyHttpTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { ConfigError } from '../../core/problems.js'
import { listen, type TestServer } from '../helpers/server.js'
import { freePort } from '../helpers/ports.js'
import { callTool, textOf } from '../helpers/client.js'
import { basic, claimsOf, ISSUER, issuingConfig, oauthPost, REPORTING } from '../helpers/issuing.js'
import { assertionClaims, assertionForm, ecKeys, edKeys, hmacWithPublicKey, nowSeconds, rsaKeys, signAssertion, unsignedAssertion } from '../helpers/assertions.js'
import { redisTest } from '../helpers/redis.js'

const EXTENSION = 'io.modelcontextprotocol/oauth-client-credentials'
const agent = ecKeys()
const AGENT = { id: 'agent', jwks: { keys: [{ ...agent.publicJwk, kid: 'agent-1' }] }, permissions: ['calculator:add', 'calculator:whoami'] }

/**
 * A deployment whose issuer is its own loopback URL, so the SDK's discovery (RFC 9728, then RFC
 * 8414) finds the token endpoint; and its RFC 8414 document as served. Both SDKs' metadata schema
 * requires `authorization_endpoint`, which RFC 8414 §2 leaves out for a server without one (ours):
 * the providers are handed the served document as their discovery state (their public seam for
 * metadata found before), and everything after discovery is the SDKs' own code.
 */
async function discoverable () {
  const port = await freePort()
  const origin = `http://127.0.0.1:${port}`
  const server = await listen(issuingConfig(undefined, { issuer: origin, port, keyClients: [AGENT] }))
  const metadata: unknown = await (await fetch(`${origin}/.well-known/oauth-authorization-server`)).json()
  return { server, origin, state: { authorizationServerUrl: origin, authorizationServerMetadata: metadata } }
}

class SeededProvider extends PrivateKeyJwtProvider {
  constructor (options: ConstructorParameters<typeof PrivateKeyJwtProvider>[0] & { expectedIssuer: string }, readonly seeded: unknown) {
    super(options)
  }

  discoveryState (): OAuthDiscoveryState {
    return this.seeded as OAuthDiscoveryState
  }
}

class LegacySeededProvider extends LegacyPrivateKeyJwtProvider {
  constructor (options: ConstructorParameters<typeof LegacyPrivateKeyJwtProvider>[0], readonly seeded: unknown) {
    super(options)
  }

  discoveryState (): LegacyDiscoveryState {
    return this.seeded as LegacyDiscoveryState
  }
}

t.test('the v2 SDK\'s PrivateKeyJwtProvider gets a token by private_key_jwt and a v2 client calls add with it', async (t) => {
  const { server, origin, state } = await discoverable()
  t.teardown(server.close)
  const authProvider = new SeededProvider({ clientId: 'agent', privateKey: agent.privatePem, algorithm: 'ES256', expectedIssuer: origin }, state)
  const client = new Client({ name: 'pkjwt-test', version: '0.0.0' }, { versionNegotiation: { mode: 'auto' } })
  await client.connect(new StreamableHTTPClientTransport(server.url, { authProvider }))
  t.teardown(async () => { await client.close() })
  t.equal(client.getProtocolEra(), 'modern', 'server/discover answered')
  t.same(client.getServerCapabilities()?.extensions, { [EXTENSION]: {} }, 'server/discover advertises the client-credentials extension')
  t.same((await client.listTools()).tools.map((tool) => tool.name).sort(), ['add', 'whoami'])
  t.equal(textOf(await callTool(client, 'add', { a: 2, b: 3 })), '5')
  t.match(server.logs.records().filter((record) => record.event === 'auth' && record.strategy === 'client'), [{ outcome: 'success', principal: 'agent' }])
})

t.test('the 1.x SDK\'s PrivateKeyJwtProvider does the same with a legacy client', async (t) => {
  const { server, origin, state } = await discoverable()
  t.teardown(server.close)
  const authProvider = new LegacySeededProvider({ clientId: 'agent', privateKey: agent.privatePem, algorithm: 'ES256', expectedIssuer: origin }, state)
  const client = new LegacyClient({ name: 'pkjwt-test', version: '0.0.0' })
  await client.connect(new LegacyHttpTransport(server.url, { authProvider }))
  t.teardown(async () => { await client.close() })
  t.same(client.getServerCapabilities()?.extensions, { [EXTENSION]: {} }, 'the initialize result advertises the extension')
  t.same((await client.listTools()).tools.map((tool) => tool.name).sort(), ['add', 'whoami'])
  t.equal(textOf(await callTool(client, 'add', { a: 2, b: 3 })), '5')
})

// Hostile and malformed requests, against a deployment whose issuer is ISSUER (https://calc.test).

const rsa = rsaKeys()
const stranger = ecKeys()
const RSA_AGENT = { id: 'rsa-agent', publicKey: rsa.publicPem, permissions: ['calculator:add'] }
const TOKEN_URL = `${ISSUER}/oauth/token`
const signed = (claims: Record<string, unknown>): string => signAssertion(agent.privatePem, claims, { kid: 'agent-1' })
const claims = (overrides: Record<string, unknown> = {}): Record<string, unknown> => assertionClaims('agent', ISSUER, overrides)

interface Refusal {
  name: string
  form: Record<string, string>
  headers?: Record<string, string>
  status: number
  error: string
  description: RegExp
}

function refusals (hostTokenUrl: string): Refusal[] {
  const now = nowSeconds()
  const invalid = (name: string, assertion: string, description: RegExp, extra: Record<string, string> = {}): Refusal =>
    ({ name, form: assertionForm(assertion, extra), status: 401, error: 'invalid_client', description })
  return [
    invalid('aud: the token endpoint URL built from the Host header', signed(claims({ aud: hostTokenUrl })), /aud must be this server's issuer identifier "https:\/\/calc\.test"/),
    invalid('aud: the token endpoint URL of the public URL', signed(claims({ aud: TOKEN_URL })), /aud must be .*not the token endpoint URL/),
    invalid('aud: another URL', signed(claims({ aud: 'https://elsewhere.example' })), /aud must be/),
    invalid('aud: an array holding the issuer', signed(claims({ aud: [ISSUER] })), /as one string .*not an array/),
    invalid('expired', signed(claims({ iat: now - 600, exp: now - 300 })), /has expired/),
    invalid('lives longer than 5 minutes (exp − iat)', signed(claims({ iat: now, exp: now + 301 })), /at most 300 s/),
    invalid('lives longer than 5 minutes (no iat: exp − now)', signed(claims({ iat: undefined, exp: now + 400 })), /at most 300 s/),
    invalid('iat in the future', signed(claims({ iat: now + 120, exp: now + 200 })), /iat is in the future/),
    invalid('no jti', signed(claims({ jti: undefined })), /jti claim is required/),
    invalid('iss ≠ sub', signed(claims({ sub: 'rsa-agent' })), /iss and sub must both be the client_id/),
    invalid('unknown client', signAssertion(stranger.privatePem, assertionClaims('nobody', ISSUER)), /no client is registered with a public key/),
    invalid('a secret client (reporting) sending an assertion', signAssertion(stranger.privatePem, assertionClaims(REPORTING.id, ISSUER)), /no client is registered with a public key/),
    invalid('signed by another key', signAssertion(stranger.privatePem, claims(), { kid: 'agent-1' }), /signature does not verify/),
    invalid('signed by another key, without kid', signAssertion(stranger.privatePem, claims()), /signature does not verify/),
    invalid('signed by another key and expired: the signature is checked first', signAssertion(stranger.privatePem, claims({ iat: now - 600, exp: now - 300 })), /signature does not verify/),
    invalid('a kid the client has no key for', signAssertion(agent.privatePem, claims(), { kid: 'agent-9' }), /no key registered for this client has this kid/),
    invalid('alg none', unsignedAssertion(claims()), /alg must be one this client is registered with \(ES256\)/),
    invalid('HS256 keyed with the client\'s public key (algorithm confusion)', hmacWithPublicKey(rsa.publicPem, assertionClaims('rsa-agent', ISSUER)), /alg must be one this client is registered with \(RS256\)/),
    invalid('PS256 for a client pinned to RS256', signAssertion(rsa.privatePem, assertionClaims('rsa-agent', ISSUER), { algorithm: 'PS256' }), /alg must be/),
    invalid('client_id that is not the iss/sub', signed(claims()), /client_id must be the iss and sub/, { client_id: 'rsa-agent' }),
    invalid('not a JWT', 'not.a.jwt', /not a signed JWT/),
    { name: 'an unknown client_assertion_type', form: assertionForm(signed(claims()), { client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:saml2-bearer' }), status: 401, error: 'invalid_client', description: /client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer/ },
    { name: 'Basic and an assertion', form: assertionForm(signed(claims())), headers: { authorization: basic(REPORTING) }, status: 400, error: 'invalid_request', description: /one client authentication method/ },
    { name: 'client_secret and an assertion', form: assertionForm(signed(claims()), { client_id: 'agent', client_secret: 'whatever it is' }), status: 400, error: 'invalid_request', description: /one client authentication method/ },
    { name: 'an assertion without its type', form: { grant_type: 'client_credentials', client_assertion: signed(claims()) }, status: 400, error: 'invalid_request', description: /go together/ },
    { name: 'a key client sending a secret', form: { grant_type: 'client_credentials' }, headers: { authorization: basic({ id: 'agent', secret: 'a guess at a secret' }) }, status: 401, error: 'invalid_client', description: /^client authentication failed$/ }
  ]
}

t.test('every refused client assertion: 401 invalid_client saying why (400 invalid_request for two methods), audited', async (t) => {
  const server = await listen(issuingConfig(undefined, { keyClients: [AGENT, RSA_AGENT] }))
  t.teardown(server.close)
  const cases = refusals(new URL('/oauth/token', server.url).href)
  for (const refusal of cases) {
    const before = server.logs.records().length
    const answer = await oauthPost(server.url, '/oauth/token', refusal.form, refusal.headers)
    t.equal(answer.status, refusal.status, `${refusal.name}: status`)
    t.same(Object.keys(answer.body).sort(), ['error', 'error_description'], `${refusal.name}: the RFC 6749 §5.2 shape`)
    t.equal(answer.body.error, refusal.error, `${refusal.name}: error`)
    t.match(answer.body.error_description, refusal.description, `${refusal.name}: error_description`)
    if (refusal.status === 401) t.match(answer.headers.get('www-authenticate'), /^Basic realm=/, `${refusal.name}: challenge`)
    const audited = server.logs.records().slice(before).filter((record) => record.event === 'auth')
    if (refusal.error === 'invalid_client') t.match(audited, [{ strategy: 'client', outcome: 'failure', reason: 'invalid_credentials' }], `${refusal.name}: audited`)
  }
  t.notMatch(server.logs.text, agent.privatePem.split('\n')[1] ?? 'unreachable', 'no key material in the logs')
  const valid = await oauthPost(server.url, '/oauth/token', assertionForm(signed(claims()), { client_id: 'agent' }))
  t.equal(valid.status, 200, 'after all that, a valid assertion with a matching client_id is accepted')
  t.equal(claimsOf(valid.body.access_token).sub, 'agent')
  t.same(valid.body.scope, 'calculator:add calculator:whoami')
  const rsaValid = await oauthPost(server.url, '/oauth/token', assertionForm(signAssertion(rsa.privatePem, assertionClaims('rsa-agent', ISSUER), { algorithm: 'RS256' })))
  t.equal(rsaValid.status, 200, 'a client registered by PEM public key, RS256 by default')
})

t.test('a client with several keys (rotation): an assertion without kid is checked with each', async (t) => {
  const rotating = { id: 'rotating', jwks: { keys: [stranger.publicJwk, agent.publicJwk] }, permissions: ['calculator:add'] }
  const server = await listen(issuingConfig(undefined, { keyClients: [rotating] }))
  t.teardown(server.close)
  for (const key of [stranger, agent]) {
    const answer = await oauthPost(server.url, '/oauth/token', assertionForm(signAssertion(key.privatePem, assertionClaims('rotating', ISSUER))))
    t.equal(answer.status, 200, 'either key')
  }
  const other = await oauthPost(server.url, '/oauth/token', assertionForm(signAssertion(rsa.privatePem, assertionClaims('rotating', ISSUER), { algorithm: 'RS256' })))
  t.equal(other.status, 401, 'a key it does not have: refused')
})

t.test('an assertion works once: the same jti again is refused, and nothing else burns it', async (t) => {
  const server = await listen(issuingConfig(undefined, { keyClients: [AGENT] }))
  t.teardown(server.close)
  const jti = 'the-one-jti'
  const forged = signAssertion(stranger.privatePem, claims({ jti }), { kid: 'agent-1' })
  t.equal((await oauthPost(server.url, '/oauth/token', assertionForm(forged))).status, 401, 'a forgery with the jti is refused')
  const assertion = signed(claims({ jti }))
  const first = await oauthPost(server.url, '/oauth/token', assertionForm(assertion))
  t.equal(first.status, 200, 'the forgery did not use the jti up: it is checked only after the signature')
  const again = await oauthPost(server.url, '/oauth/token', assertionForm(assertion))
  t.equal(again.status, 401)
  t.same(again.body, { error: 'invalid_client', error_description: 'client assertion refused: it was used before: each assertion needs a jti of its own' })
  const other = await oauthPost(server.url, '/oauth/token', assertionForm(signed(claims({ jti: 'another-jti' }))))
  t.equal(other.status, 200, 'a fresh jti is fine')
  const revocation = await oauthPost(server.url, '/oauth/revoke', assertionForm(signed(claims({ jti })), { token: String(first.body.access_token) }))
  t.equal(revocation.status, 401, 'a jti used at the token endpoint is used at the revocation endpoint too')
  t.match(server.logs.records().filter((record) => record.event === 'auth'), [
    { outcome: 'failure', reason: 'invalid_credentials' },
    { outcome: 'success', principal: 'agent' },
    { outcome: 'failure', reason: 'invalid_credentials' },
    { outcome: 'success', principal: 'agent' },
    { outcome: 'failure', reason: 'invalid_credentials' }
  ])
})

redisTest(t, 'a jti used at one instance is refused at another sharing Redis', async (t, redis) => {
  const config = issuingConfig(redis.url, { keyClients: [AGENT] })
  const [a, b] = await Promise.all([listen(config), listen(config)])
  t.teardown(async () => { await a.close(); await b.close() })
  const assertion = signed(claims())
  t.equal((await oauthPost(a.url, '/oauth/token', assertionForm(assertion))).status, 200, 'instance A accepts it')
  const replayed = await oauthPost(b.url, '/oauth/token', assertionForm(assertion))
  t.equal(replayed.status, 401, 'instance B refuses the replay')
  t.match(replayed.body.error_description, /used before/)
})

t.test('refused assertions count towards the failed-auth throttle', async (t) => {
  const server = await listen(issuingConfig(undefined, { keyClients: [AGENT], rateLimit: { failedAuth: { max: 2, timeWindow: '1m' } } }))
  t.teardown(server.close)
  const forged = (): string => signAssertion(stranger.privatePem, claims(), { kid: 'agent-1' })
  t.equal((await oauthPost(server.url, '/oauth/token', assertionForm(forged()))).status, 401)
  t.equal((await oauthPost(server.url, '/oauth/token', assertionForm(forged()))).status, 401)
  const throttled = await oauthPost(server.url, '/oauth/token', assertionForm(forged()))
  t.equal(throttled.status, 429, 'past the limit')
  t.equal(throttled.body.error, 'temporarily_unavailable')
  t.match(throttled.headers.get('retry-after'), /^\d+$/)
  t.match(server.logs.records().filter((record) => record.event === 'auth'), [
    { strategy: 'client', outcome: 'failure' },
    { strategy: 'client', outcome: 'failure' },
    { strategy: 'client', outcome: 'throttled', reason: 'too_many_failures' }
  ])
  t.equal((await oauthPost(server.url, '/oauth/token', assertionForm(signed(claims())))).status, 200, 'a valid assertion is a cheap check: never throttled')
})

t.test('RFC 8414 metadata lists private_key_jwt and its algorithms only when a client is registered by key', async (t) => {
  const withKeys = await listen(issuingConfig(undefined, { keyClients: [AGENT, RSA_AGENT] }))
  const withoutKeys = await listen(issuingConfig())
  t.teardown(async () => { await withKeys.close(); await withoutKeys.close() })
  const metadata = async (server: TestServer): Promise<Record<string, unknown>> =>
    await (await fetch(new URL('/.well-known/oauth-authorization-server', server.url))).json() as Record<string, unknown>
  t.match(await metadata(withKeys), {
    issuer: ISSUER,
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'private_key_jwt'],
    token_endpoint_auth_signing_alg_values_supported: ['ES256', 'RS256'],
    revocation_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'private_key_jwt'],
    revocation_endpoint_auth_signing_alg_values_supported: ['ES256', 'RS256']
  })
  const plain = await metadata(withoutKeys)
  t.same(plain.token_endpoint_auth_methods_supported, ['client_secret_basic', 'client_secret_post'])
  t.notOk('token_endpoint_auth_signing_alg_values_supported' in plain, 'no algorithm list without the method')
})

function problemsOf (keyClient: Record<string, unknown>): string[] {
  try {
    issuingConfig(undefined, { keyClients: [keyClient] })
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((problem) => `${problem.path}: ${problem.message}`)
    throw error
  }
  return []
}

t.test('a client registers one way to authenticate, with keys and algorithms that fit', async (t) => {
  const at = 'auth.jwt.issue.clients[2]'
  const permissions = ['calculator:add']
  t.same(problemsOf({ id: 'both', secretHash: issuingConfig().auth.jwt?.issue?.clients[0]?.secretHash, publicKey: rsa.publicPem, permissions }),
    [`${at}: a client authenticates one way: give exactly one of secretHash (client_secret_basic/post) or publicKey or jwks (private_key_jwt)`])
  t.same(problemsOf({ id: 'neither', permissions }), [`${at}: a client authenticates one way: give exactly one of secretHash (client_secret_basic/post) or publicKey or jwks (private_key_jwt)`])
  t.same(problemsOf({ id: 'two-keys', publicKey: rsa.publicPem, jwks: AGENT.jwks, permissions }), [`${at}: a client authenticates one way: give exactly one of secretHash (client_secret_basic/post) or publicKey or jwks (private_key_jwt)`])
  t.match(problemsOf({ id: 'hmac', publicKey: rsa.publicPem, algorithms: ['HS256'], permissions }), [`${at}.algorithms[0]: algorithm "HS256" is refused for private_key_jwt: asymmetric ones only`])
  t.match(problemsOf({ id: 'none', publicKey: rsa.publicPem, algorithms: ['none'], permissions }), [/never none or HS\*/])
  t.match(problemsOf({ id: 'mismatch', publicKey: rsa.publicPem, algorithms: ['ES256'], permissions }), [`${at}.publicKey: not a public signing key usable with ES256`])
  t.match(problemsOf({ id: 'short', publicKey: rsaKeys(1024).publicPem, permissions }), [`${at}.publicKey: not a public signing key usable with RS256`])
  t.match(problemsOf({ id: 'private', publicKey: agent.privatePem, permissions }), [`${at}.publicKey: expected a PEM public key`])
  t.match(problemsOf({ id: 'secret-jwk', jwks: { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] }, permissions }), [`${at}.jwks.keys[0]: not a public signing key`])
  t.match(problemsOf({ id: 'dup', jwks: { keys: [{ ...agent.publicJwk, kid: 'a' }, { ...stranger.publicJwk, kid: 'a' }] }, permissions }), [`${at}.jwks.keys: key ids (kid) must be unique`])
  t.same(problemsOf({ id: 'pinned', jwks: { keys: [{ ...rsa.publicJwk, kid: 'r' }] }, algorithms: ['PS256', 'RS256'], permissions }), [], 'an RSA key may be pinned to several RSA algorithms')
  t.same(problemsOf({ id: 'ed', publicKey: edKeys().publicPem, permissions }), [], 'Ed25519: EdDSA')
  const secretClient = { id: 'secret-with-algs', secretHash: issuingConfig().auth.jwt?.issue?.clients[0]?.secretHash, algorithms: ['ES256'], permissions }
  t.same(problemsOf(secretClient), [`${at}.algorithms: algorithms is for clients registered by key (publicKey or jwks)`])
})
