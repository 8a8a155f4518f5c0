import { generateKeyPairSync } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { addCall, callTool, CLIENT_GENERATIONS, connect, post, textOf } from '../helpers/client.js'
import { API_KEY, jwtFor, jwtSection } from '../helpers/credentials.js'
import { BASIC_CLIENT, PKJWT_CLIENT_ID, PKJWT_KEY_ID, startAuthorizationServer, type AuthorizationServer } from '../helpers/introspection-provider.js'
import { CLIENT_ID } from '../helpers/oidc-provider.js'
import { listen, testConfig, type TestServer } from '../helpers/server.js'
import { parseChallenge } from '../helpers/www-authenticate.js'

// Opaque access tokens from a real authorization server (oidc-provider), checked at its
// introspection endpoint (RFC 7662) with both client authentication methods.

const SCOPES = 'calculator:* calculator:add calculator:whoami'
const PUBLIC_URL = 'https://calc.test'
const RESOURCE = `${PUBLIC_URL}/mcp`
const multiplyCall = { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'multiply', arguments: { a: 6, b: 7 } } }

async function authorizationServer (t: Test): Promise<AuthorizationServer> {
  const as = await startAuthorizationServer(SCOPES)
  t.teardown(as.close)
  return as
}

function basicSection (as: AuthorizationServer, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { introspectionEndpoint: as.introspectionEndpoint, issuer: as.issuer, audience: RESOURCE, clientId: BASIC_CLIENT.clientId, clientSecret: BASIC_CLIENT.clientSecret, ...extra }
}

async function serve (t: Test, introspection: Record<string, unknown>): Promise<TestServer> {
  const server = await listen(testConfig({ server: { publicUrl: PUBLIC_URL }, auth: { strategy: 'introspection', introspection } }))
  t.teardown(server.close)
  return server
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

function auditOf (server: TestServer): Array<Record<string, unknown>> {
  return server.logs.records().filter((record) => record.event === 'auth' && record.strategy === 'introspection')
}

/** No log line holds a token, the client secret or the private key. */
function noSecretsLogged (t: Test, server: TestServer, secrets: readonly string[]): void {
  const text = server.logs.text
  t.ok(text.length > 0, 'the server logged')
  for (const secret of secrets) t.notOk(text.includes(secret), `a secret of ${secret.length} characters is not in the logs`)
}

t.test('client_secret_basic: real clients of both eras list and call tools with an opaque token', async (t) => {
  const as = await authorizationServer(t)
  const server = await serve(t, basicSection(as))
  const token = await as.token('calculator:add calculator:whoami', RESOURCE)
  t.notMatch(token, /\./, 'the token is opaque, not a JWT')
  for (const generation of CLIENT_GENERATIONS) {
    const { client, close } = await connect(server.url, bearer(token), generation)
    t.same((await client.listTools()).tools.map((tool) => tool.name).sort(), ['add', 'whoami'], `${generation}: the tools of the token's scope`)
    t.equal(textOf(await callTool(client, 'add', { a: 40, b: 2 })), '42', `${generation}: add`)
    t.match((await callTool(client, 'whoami', {})).structuredContent, { id: CLIENT_ID, strategy: 'introspection', permissions: ['calculator:add', 'calculator:whoami'] },
      `${generation}: a client-credentials token names its client (no sub)`)
    await close()
  }

  const outside = await post(server.url, multiplyCall, bearer(token))
  t.equal(outside.status, 403, 'a tool outside the scope')
  t.match(parseChallenge(outside.headers.get('www-authenticate')).params, { error: 'insufficient_scope', scope: 'calculator:multiply', resource_metadata: `${PUBLIC_URL}/.well-known/oauth-protected-resource/mcp` })

  const missing = await post(server.url, addCall)
  t.equal(missing.status, 401)
  t.match(parseChallenge(missing.headers.get('www-authenticate')), { scheme: 'Bearer', params: { realm: 'mcp', resource_metadata: `${PUBLIC_URL}/.well-known/oauth-protected-resource/mcp` } })
  const metadata = await (await fetch(new URL('/.well-known/oauth-protected-resource/mcp', server.url))).json() as Record<string, unknown>
  t.same(metadata.authorization_servers, [as.issuer], 'RFC 9728 names the authorization server')
  t.equal(metadata.resource, RESOURCE)

  t.equal(as.introspections(), 1, 'one introspection: every later request was answered from the cache')
  t.ok(auditOf(server).some((record) => record.outcome === 'success' && record.principal === CLIENT_ID && typeof record.reqId === 'string' && record.ip === '127.0.0.1'), 'successes are audited')
  noSecretsLogged(t, server, [token, BASIC_CLIENT.clientSecret])
})

t.test('private_key_jwt: a fresh client assertion per call', async (t) => {
  const as = await authorizationServer(t)
  const server = await serve(t, { introspectionEndpoint: as.introspectionEndpoint, issuer: as.issuer, audience: RESOURCE, clientId: PKJWT_CLIENT_ID, privateKey: as.pkjwtPrivateKey, keyId: PKJWT_KEY_ID })
  const tokens = [await as.token('calculator:*', RESOURCE), await as.token('calculator:add', RESOURCE), await as.token('calculator:whoami', RESOURCE)]
  const { client, close } = await connect(server.url, bearer(tokens[0] ?? ''), 'modern')
  t.teardown(close)
  t.equal(textOf(await callTool(client, 'multiply', { a: 6, b: 7 })), '42')
  // The server refuses a replayed assertion (its jti): three calls pass only with three assertions.
  for (const token of tokens) t.equal((await post(server.url, addCall, bearer(token))).status, token === tokens[2] ? 403 : 200)
  t.equal(as.introspections(), 3, 'one call per token')
  noSecretsLogged(t, server, [...tokens, as.pkjwtPrivateKey.split('\n')[1] ?? 'x'])
})

t.test('refused tokens: 401 invalid_token, and the audit line says why', async (t) => {
  const as = await authorizationServer(t)
  const server = await serve(t, basicSection(as))
  const cases: Array<[string, string, Promise<string> | string]> = [
    ['a token for another resource', 'wrong_audience', as.token('calculator:add', 'https://other.test/mcp')],
    ['a token without an audience', 'no_audience', as.token('calculator:add')],
    ['an unknown token', 'inactive', 'x'.repeat(43)],
    // oidc-provider will not introspect JWTs: 400 unsupported_token_type, a refusal, not an outage.
    ['a JWT', 'unsupported_token_type', jwtFor('alice', ['*'])]
  ]
  for (const [name, detail, pending] of cases) {
    const token = await pending
    const refused = await post(server.url, addCall, bearer(token))
    t.equal(refused.status, 401, name)
    t.match(parseChallenge(refused.headers.get('www-authenticate')).params, { realm: 'mcp', error: 'invalid_token' }, name)
    t.match(await refused.json(), { code: 'MCP_AUTH_INVALID_CREDENTIALS', message: 'invalid credentials' }, name)
    t.match(auditOf(server).at(-1), { outcome: 'failure', reason: 'invalid_credentials', detail }, `${name}: ${detail}`)
  }

  const revoked = await as.token('calculator:add', RESOURCE)
  await as.revoke(revoked)
  t.equal((await post(server.url, addCall, bearer(revoked))).status, 401, 'a revoked token (never seen before, so not cached)')
  t.match(auditOf(server).at(-1), { reason: 'invalid_credentials', detail: 'inactive' })
  t.equal((await post(server.url, addCall, { authorization: 'Bearer ' })).status, 401, 'an empty token')
  noSecretsLogged(t, server, [revoked, BASIC_CLIENT.clientSecret])
})

t.test('requireAudience: false accepts a token without aud, never one for another resource', async (t) => {
  const as = await authorizationServer(t)
  const server = await serve(t, basicSection(as, { requireAudience: false }))
  t.equal((await post(server.url, addCall, bearer(await as.token('calculator:add')))).status, 200)
  t.equal((await post(server.url, addCall, bearer(await as.token('calculator:add', 'https://other.test/mcp')))).status, 401)
})

t.test('an issuer that is not the configured one is refused', async (t) => {
  const as = await authorizationServer(t)
  // The same server under another name: its answers carry its real iss.
  const server = await serve(t, basicSection(as, { issuer: as.issuer.replace('127.0.0.1', 'localhost') }))
  t.equal((await post(server.url, addCall, bearer(await as.token('calculator:add', RESOURCE)))).status, 401)
  t.match(auditOf(server).at(-1), { outcome: 'failure', reason: 'invalid_credentials', detail: 'wrong_issuer' })
})

t.test('[jwt, introspection, api-key]: a JWT, an opaque token and a key, each taken by its strategy', async (t) => {
  const as = await authorizationServer(t)
  const server = await listen(testConfig({
    server: { publicUrl: PUBLIC_URL },
    auth: { strategy: ['jwt', 'introspection', 'api-key'], jwt: jwtSection, introspection: basicSection(as), apiKey: { keys: [{ id: 'k', key: API_KEY, permissions: ['*'] }] } }
  }))
  t.teardown(server.close)
  const opaque = await as.token('calculator:*', RESOURCE)
  for (const [headers, strategy] of [[bearer(jwtFor('alice', ['*'])), 'jwt'], [bearer(opaque), 'introspection'], [{ 'x-api-key': API_KEY }, 'api-key']] as const) {
    const { client, close } = await connect(server.url, headers, 'legacy')
    t.match((await callTool(client, 'whoami', {})).structuredContent, { strategy }, `${strategy} accepts its credential`)
    await close()
  }
  t.equal(as.introspections(), 1, 'a JWT the jwt strategy accepts is never sent to the authorization server')
  const refused = await post(server.url, addCall)
  t.equal(refused.status, 401)
  t.match(refused.headers.get('www-authenticate'), /^Bearer realm="mcp", resource_metadata="[^"]+", scope="[^"]+", ApiKey realm="mcp", header="x-api-key"$/, 'one Bearer challenge for both token strategies, and the key\'s')
  const unknown = await post(server.url, addCall, bearer('y'.repeat(43)))
  t.equal(unknown.status, 401, 'an opaque token neither strategy knows')
  t.match(server.logs.records().filter((record) => record.event === 'auth').at(-1), { strategy: 'jwt', outcome: 'failure', reason: 'invalid_credentials' },
    'audited under the first strategy that refused it (docs/strategies/lists.md)')
  t.equal(as.introspections(), 2, 'after the jwt strategy refused it, the token was introspected')
})

t.test('the options are checked when the config is read', async (t) => {
  const base = { introspectionEndpoint: 'https://as.test/introspect', issuer: 'https://as.test', audience: RESOURCE, clientId: 'rs' }
  const config = (introspection: Record<string, unknown>) => testConfig({ auth: { strategy: 'introspection', introspection } })
  t.throws(() => config(base), { message: /auth\.introspection\.clientSecret: give exactly one of clientSecret \(client_secret_basic\) or privateKey \(private_key_jwt\)/ })
  t.throws(() => config({ ...base, clientSecret: 's', privateKey: 'k' }), { message: /auth\.introspection\.privateKey: expected a PEM private key/ })
  t.throws(() => config({ ...base, clientSecret: 's', introspectionEndpoint: 'ftp://as.test' }), { message: /auth\.introspection\.introspectionEndpoint: expected an http\(s\) URL/ })
  t.throws(() => config({ ...base, clientSecret: 's', keyId: 'k1' }), { message: /auth\.introspection\.keyId: keyId goes with privateKey/ })
  t.throws(() => config({ ...base, clientSecret: 's', timeout: 'soon' }), { message: /auth\.introspection\.timeout: expected a duration/ })
  t.throws(() => config({ clientSecret: 's' }), { message: /auth\.introspection\.audience/ })
})

t.test('clientSecretFile and privateKeyFile: the secrets come from files, like every other secret', async (t) => {
  const dir = t.testdir({})
  const pem = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()
  writeFileSync(join(dir, 'secret'), 'from-a-file-0123456789\n')
  writeFileSync(join(dir, 'key.pem'), pem)
  const base = { introspectionEndpoint: 'https://as.test/introspect', issuer: 'https://as.test', audience: RESOURCE, clientId: 'rs' }
  const section = (introspection: Record<string, unknown>) => testConfig({ auth: { strategy: 'introspection', introspection: { ...base, ...introspection } } }).auth.introspection
  t.equal(section({ clientSecretFile: join(dir, 'secret') })?.clientSecret, 'from-a-file-0123456789', 'the trailing newline removed')
  t.equal(section({ privateKeyFile: join(dir, 'key.pem') })?.privateKey, pem.replace(/\n+$/, ''))
  t.throws(() => section({ privateKeyFile: join(dir, 'key.pem'), assertionAlgorithm: 'ES256' }), { message: /auth\.introspection\.assertionAlgorithm: this key signs with ES384/ })
  t.throws(() => section({ clientSecret: 'x', clientSecretFile: join(dir, 'secret') }), { message: /auth\.introspection\.clientSecretFile: give either clientSecret or clientSecretFile, not both/ })
})
