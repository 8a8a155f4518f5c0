import t from 'tap'
import { generateKeyPairSync } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createSigner } from 'fast-jwt'
import { callTool, connect, post, addCall, CLIENT_GENERATIONS } from '../helpers/client.js'
import { JWT_SECRET } from '../helpers/credentials.js'
import { listen, testConfig } from '../helpers/server.js'

// Several trusted issuers (multi-tenant): each with its own keys, audience, algorithms and claim
// mapping; a token goes to the issuer its `iss` names before any key is looked up.

const TENANT_A = 'https://a.idp.test'
const TENANT_B = 'https://b.idp.test'
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
const publicKey = rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString()
const privateKey = rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()

const issuers = [
  { issuer: TENANT_A, secret: JWT_SECRET, audience: 'calc-a' },
  { issuer: TENANT_B, publicKey, algorithms: ['RS256'], audience: 'calc-b', subjectClaim: 'email', permissionsClaim: 'roles' }
]

const now = (): number => Math.floor(Date.now() / 1000)
const signA = (claims: Record<string, unknown>): string => createSigner({ key: JWT_SECRET, algorithm: 'HS256' })({ iss: TENANT_A, aud: 'calc-a', exp: now() + 60, ...claims })
const signB = (claims: Record<string, unknown>): string => createSigner({ key: privateKey, algorithm: 'RS256' })({ iss: TENANT_B, aud: 'calc-b', exp: now() + 60, ...claims })

t.test('each issuer with its own keys and claim mapping, through real clients of both eras', async (t) => {
  const server = await listen(testConfig({ auth: { strategy: 'jwt', jwt: { issuers } } }))
  t.teardown(server.close)
  const tokens = {
    a: signA({ sub: 'alice', permissions: ['calculator:*'] }),
    b: signB({ sub: 'ignored', email: 'bob@b.test', roles: ['calculator:whoami', 'calculator:add'] })
  }
  for (const generation of CLIENT_GENERATIONS) {
    const a = await connect(server.url, { authorization: `Bearer ${tokens.a}` }, generation)
    t.match((await callTool(a.client, 'whoami', {})).structuredContent, { id: 'alice', strategy: 'jwt' }, `${generation}: tenant A`)
    await a.close()
    const b = await connect(server.url, { authorization: `Bearer ${tokens.b}` }, generation)
    t.match((await callTool(b.client, 'whoami', {})).structuredContent, { id: 'bob@b.test', permissions: ['calculator:whoami', 'calculator:add'] }, `${generation}: tenant B's subject and permissions claims`)
    await b.close()
  }
})

t.test('a token is refused unless its own issuer accepts it', async (t) => {
  const server = await listen(testConfig({ auth: { strategy: 'jwt', jwt: { issuers } } }))
  t.teardown(server.close)
  const refused = async (token: string, what: string): Promise<void> => {
    const answer = await post(server.url, addCall, { authorization: `Bearer ${token}` })
    t.equal(answer.status, 401, what)
    t.equal((await answer.json() as { code: string }).code, 'MCP_AUTH_INVALID_CREDENTIALS', what)
  }
  await refused(createSigner({ key: privateKey, algorithm: 'RS256' })({ iss: TENANT_A, aud: 'calc-a', exp: now() + 60, sub: 'mallory' }), "A's iss, signed with B's key")
  await refused(createSigner({ key: JWT_SECRET, algorithm: 'HS256' })({ iss: TENANT_B, aud: 'calc-b', exp: now() + 60, email: 'mallory' }), "B's iss, signed with A's secret (B pins RS256)")
  await refused(signA({ sub: 'alice', aud: 'calc-b' }), "A's token for B's audience")
  await refused(signB({ sub: 'x' }), "B's token without B's subject claim (email)")
  await refused(createSigner({ key: JWT_SECRET, algorithm: 'HS256' })({ iss: 'https://c.idp.test', exp: now() + 60, sub: 'alice' }), 'an issuer not configured')
  await refused(createSigner({ key: JWT_SECRET, algorithm: 'HS256' })({ exp: now() + 60, sub: 'alice' }), 'no iss at all')
  t.ok(server.logs.records().some((record) => record.code === 'MCP_AUTH_UNKNOWN_ISSUER'), 'an unknown issuer is named in the debug log, and no key is looked up for it')
  const expired = await post(server.url, addCall, { authorization: `Bearer ${signA({ sub: 'alice', exp: now() - 3600 })}` })
  t.equal((await expired.json() as { code: string }).code, 'MCP_AUTH_TOKEN_EXPIRED')
})

t.test('RFC 9728 metadata lists every issuer as an authorization server', async (t) => {
  const server = await listen(testConfig({ auth: { strategy: 'jwt', jwt: { issuers } } }))
  t.teardown(server.close)
  const metadata = await (await fetch(new URL('/.well-known/oauth-protected-resource/mcp', server.url))).json() as { authorization_servers: string[] }
  t.same(metadata.authorization_servers, [TENANT_A, TENANT_B])
  const challenge = (await post(server.url, addCall)).headers.get('www-authenticate') ?? ''
  t.match(challenge, /^Bearer realm="mcp", resource_metadata="http:\/\/127\.0\.0\.1:\d+\/\.well-known\/oauth-protected-resource\/mcp"/)
})

t.test('an issuer with a JWKS: its keys are fetched for its tokens only, never for an unknown iss', async (t) => {
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  let fetches = 0
  const jwks = createServer((_request, response) => {
    fetches++
    response.setHeader('content-type', 'application/json')
    response.end(JSON.stringify({ keys: [{ ...ec.publicKey.export({ format: 'jwk' }), kid: 'c1', alg: 'ES256', use: 'sig' }] }))
  })
  await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { jwks.close() })
  const jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks`
  const TENANT_C = 'https://c.idp.test'
  const server = await listen(testConfig({ auth: { strategy: 'jwt', jwt: { issuers: [...issuers, { issuer: TENANT_C, jwksUrl, algorithms: ['ES256'] }] } } }))
  t.teardown(server.close)

  const foreign = createSigner({ key: ec.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), algorithm: 'ES256', kid: 'c1' })
  for (const iss of ['https://unknown.idp.test', TENANT_A.replace('a.', 'aa.')]) {
    t.equal((await post(server.url, addCall, { authorization: `Bearer ${foreign({ iss, sub: 'x', exp: now() + 60 })}` })).status, 401, `iss ${iss}`)
  }
  t.equal(fetches, 0, 'no JWKS fetch for tokens of issuers not configured')
  const { client, close } = await connect(server.url, { authorization: `Bearer ${foreign({ iss: TENANT_C, sub: 'carol', permissions: ['calculator:whoami'], exp: now() + 60 })}` }, 'modern')
  t.teardown(close)
  t.match((await callTool(client, 'whoami', {})).structuredContent, { id: 'carol' }, "tenant C's token, verified with its published key")
  t.equal(fetches, 1, 'fetched once, for its own issuer')
})

t.test('the issuers are checked when the config is read', async (t) => {
  const config = (jwt: Record<string, unknown>) => () => testConfig({ auth: { strategy: 'jwt', jwt } })
  t.throws(config({ issuers, secret: JWT_SECRET }), { message: /auth\.jwt\.secret: with issuers, give secret inside each issuer/ })
  t.throws(config({ issuers: [issuers[0], issuers[0]] }), { message: /auth\.jwt\.issuers: issuers must be unique/ })
  t.throws(config({ issuers: [{ issuer: TENANT_A }] }), { message: /auth\.jwt\.issuers\[0\]: give exactly one of secret, publicKey, keys or jwksUrl/ })
  t.throws(config({ issuers: [{ issuer: TENANT_A, secret: JWT_SECRET, algorithms: ['RS256'] }] }), { message: /auth\.jwt\.issuers\[0\]\.secret: RS256 need a publicKey, not a secret/ })
  t.throws(config({ issuers: [{ secret: JWT_SECRET }] }), { message: /auth\.jwt\.issuers\[0\]\.issuer/ })
})
