import t from 'tap'
import { generateKeyPairSync, createHmac } from 'node:crypto'
import { createSigner } from 'fast-jwt'
import { McpServer } from '@modelcontextprotocol/server'
import { DUAL_ERA_PROTOCOL_VERSIONS } from '../../mcp/protocol-versions.js'
import { addCall, callTool, connect, post, textOf } from '../helpers/client.js'
import { countingCalculator } from '../helpers/counting-server.js'
import { JWT_AUDIENCE, JWT_ISSUER, JWT_SECRET, jwtFor, jwtSection } from '../helpers/credentials.js'
import { listen, testConfig } from '../helpers/server.js'
import { main } from '../../bin/cli.js'
import { PassThrough } from 'node:stream'

const pem = () => {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  return { publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(), privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() }
}
const rsa = pem()
const otherRsa = pem()
const now = () => Math.floor(Date.now() / 1000)
const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
const claims = (extra: Record<string, unknown> = {}) => ({ sub: 'alice', permissions: ['calculator:*'], iss: JWT_ISSUER, aud: JWT_AUDIENCE, iat: now(), exp: now() + 300, ...extra })
const hs = (payload: Record<string, unknown>, key = JWT_SECRET, header: { kid?: string } = {}) =>
  createSigner({ key, algorithm: 'HS256', ...header })(payload)
const rs = (payload: Record<string, unknown>, key = rsa.privateKey, kid?: string) =>
  createSigner({ key, algorithm: 'RS256', ...(kid === undefined ? {} : { kid }) })(payload)

/** The calculator plus a tool that reports the principal it was called by. */
function withWho () {
  const server = new McpServer({ name: 'who', version: '0' }, { supportedProtocolVersions: [...DUAL_ERA_PROTOCOL_VERSIONS] })
  server.registerTool('who', { description: 'principal' }, async (ctx) => ({ content: [{ type: 'text', text: JSON.stringify(ctx.http?.authInfo?.extra?.principal) }] }))
  return server
}

t.test('a valid token: principal from sub, permissions from the claim and from scope', async (t) => {
  const server = await listen(testConfig({ auth: { strategy: 'jwt', jwt: jwtSection } }), { mcp: { createServer: withWho } })
  t.teardown(server.close)
  const token = hs(claims({ permissions: ['calculator:add', 'calculator:who'], scope: 'calculator:sqrt calculator:add' }))
  for (const generation of ['legacy', 'modern'] as const) {
    const { client, close } = await connect(server.url, { authorization: `Bearer ${token}` }, generation)
    t.teardown(close)
    const principal = JSON.parse(textOf(await callTool(client, 'who', {}))) as Record<string, unknown>
    t.same(principal.permissions, ['calculator:add', 'calculator:who', 'calculator:sqrt'], `${generation}: the claim, then scope, without duplicates`)
    t.match(principal, { id: 'alice', strategy: 'jwt', claims: { sub: 'alice', iss: JWT_ISSUER } })
    t.type(principal.expiresAt, 'number')
  }
})

t.test('hostile tokens are refused with 401 and the RFC 6750 challenge; nothing runs', async (t) => {
  const { createServer, counts } = countingCalculator()
  const server = await listen(testConfig({ auth: { strategy: 'jwt', jwt: jwtSection } }), { mcp: { createServer } })
  t.teardown(server.close)
  const valid = hs(claims())
  const unsignedNone = `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(claims())}.`
  const noneWithSignature = `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(claims())}.${valid.split('.')[2]}`
  const forgedHeader = `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url(claims({ sub: 'root', permissions: ['*'] }))}.${valid.split('.')[2]}`
  const cases: Array<[string, string, string]> = [
    ['alg none, unsigned', unsignedNone, 'invalid'],
    ['alg none with a signature', noneWithSignature, 'invalid'],
    ['a payload swapped under a valid signature', forgedHeader, 'invalid'],
    ['signed with the wrong secret', hs(claims(), 'another-secret-0123456789abcdefghijklmnopqrstuv'), 'invalid'],
    ['RS256 against an HS256 deployment', rs(claims()), 'invalid'],
    ['expired', hs(claims({ iat: now() - 600, exp: now() - 120 })), 'expired'],
    ['not valid before a future time', hs(claims({ nbf: now() + 600 })), 'invalid'],
    ['wrong issuer', hs(claims({ iss: 'https://evil.test' })), 'invalid'],
    ['wrong audience', hs(claims({ aud: 'https://other.test/mcp' })), 'invalid'],
    ['no exp', hs({ ...claims(), exp: undefined }), 'invalid'],
    ['no sub', hs({ ...claims(), sub: undefined }), 'invalid'],
    ['truncated', valid.slice(0, -5), 'invalid'],
    ['two dots only', '..', 'invalid'],
    ['not a JWT', 'hello-world', 'invalid'],
    ['HMAC by hand with a different secret', (() => {
      const body = `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url(claims())}`
      return `${body}.${createHmac('sha256', 'x'.repeat(40)).update(body).digest('base64url')}`
    })(), 'invalid']
  ]
  for (const [name, token, kind] of cases) {
    const response = await post(server.url, addCall, { authorization: `Bearer ${token}` })
    t.equal(response.status, 401, name)
    const challenge = response.headers.get('www-authenticate')
    if (kind === 'expired') {
      t.match(challenge, /^Bearer realm="mcp", error="invalid_token", error_description="token expired", resource_metadata="[^"]+", scope="[^"]+"$/, `${name}: challenge`)
      t.match(await response.json(), { code: 'MCP_AUTH_TOKEN_EXPIRED', message: 'token expired' })
    } else {
      t.match(challenge, /^Bearer realm="mcp", error="invalid_token", resource_metadata="[^"]+", scope="[^"]+"$/, `${name}: challenge`)
      t.match(await response.json(), { code: 'MCP_AUTH_INVALID_CREDENTIALS', message: 'invalid credentials' }, `${name}: body`)
    }
  }
  const inQuery = await post(`${server.url.href}?access_token=${valid}&token=${valid}&jwt=${valid}`, addCall)
  t.equal(inQuery.status, 401, 'a token in the query string is not read')
  t.match(inQuery.headers.get('www-authenticate'), /^Bearer realm="mcp", resource_metadata="[^"]+", scope="[^"]+"$/, 'and counts as no credentials (no error code)')
  t.equal(counts.toolRuns, 0, 'no tool ran')
  t.equal((await post(server.url, addCall, { authorization: `Bearer ${valid}` })).status, 200, 'the valid token is served')
  t.notOk(server.logs.text.includes(valid.split('.')[2] ?? 'x'), 'no signature in the logs')
})

t.test('clock tolerance (default 30 s) and maxAge', async (t) => {
  const server = await listen(testConfig({ auth: { strategy: 'jwt', jwt: { ...jwtSection, maxAge: '1h' } } }))
  t.teardown(server.close)
  const status = async (token: string) => (await post(server.url, addCall, { authorization: `Bearer ${token}` })).status
  t.equal(await status(hs(claims({ exp: now() - 10 }))), 200, 'expired 10 s ago: within tolerance')
  t.equal(await status(hs(claims({ nbf: now() + 10 }))), 200, 'valid in 10 s: within tolerance')
  t.equal(await status(hs(claims({ exp: now() - 60 }))), 401, 'expired a minute ago')
  t.equal(await status(hs(claims({ iat: now() - 7200, exp: now() + 60 }))), 401, 'issued two hours ago: older than maxAge')
})

t.test('public keys: RS256 with keys rotated by kid', async (t) => {
  const next = pem()
  const server = await listen(testConfig({
    auth: {
      strategy: 'jwt',
      jwt: {
        algorithms: ['RS256'],
        issuer: JWT_ISSUER,
        keys: [{ kid: '2026-11', publicKey: next.publicKey, privateKey: next.privateKey }, { kid: '2026-05', publicKey: rsa.publicKey }]
      }
    }
  }))
  t.teardown(server.close)
  const status = async (token: string) => (await post(server.url, addCall, { authorization: `Bearer ${token}` })).status
  t.equal(await status(rs(claims(), next.privateKey, '2026-11')), 200, 'the new key')
  t.equal(await status(rs(claims(), rsa.privateKey, '2026-05')), 200, 'the old key, still live')
  t.equal(await status(rs(claims(), rsa.privateKey, '2026-11')), 401, 'a kid naming the wrong key')
  t.equal(await status(rs(claims(), rsa.privateKey, 'unknown')), 401, 'an unknown kid')
  t.equal(await status(rs(claims(), rsa.privateKey)), 401, 'no kid')
  t.equal(await status(rs(claims(), otherRsa.privateKey, '2026-05')), 401, 'a valid signature from another key set')
  t.equal(await status(hs(claims(), rsa.publicKey, { kid: '2026-05' })), 401, 'HS256 signed with the RS public key as the secret (key confusion)')
  t.equal(await status(hs(claims(), next.publicKey, { kid: '2026-11' })), 401, 'the same with the other key')
})

t.test('the token command mints with the config key; the server accepts it', async (t) => {
  const dir = t.testdir({
    'jwt.yaml': `auth:\n  strategy: jwt\n  jwt:\n    secret: \${JWT_SECRET}\n    issuer: ${JWT_ISSUER}\n    audience: ${JWT_AUDIENCE}\n`,
    'verify-only.yaml': `auth:\n  strategy: jwt\n  jwt:\n    algorithms: [RS256]\n    publicKey: "${rsa.publicKey.replace(/\n/g, '\\n')}"\n`
  })
  const out = new PassThrough()
  let printed = ''
  out.on('data', (chunk: Buffer) => { printed += chunk.toString() })
  const code = await main(['token', '--config', `${dir}/jwt.yaml`, '--sub', 'reporting', '--permissions', 'calculator:add,calculator:sqrt', '--ttl', '5m'],
    { stdout: out, stderr: new PassThrough(), env: { JWT_SECRET } })
  t.equal(code, 0)
  const token = printed.trim()
  const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as Record<string, unknown>
  t.match(payload, { sub: 'reporting', permissions: ['calculator:add', 'calculator:sqrt'], iss: JWT_ISSUER, aud: JWT_AUDIENCE })
  t.equal(Number(payload.exp) - Number(payload.iat), 300, '--ttl 5m')
  t.type(payload.jti, 'string')

  const server = await listen(testConfig({ auth: { strategy: 'jwt', jwt: jwtSection } }))
  t.teardown(server.close)
  t.equal((await post(server.url, addCall, { authorization: `Bearer ${token}` })).status, 200)

  const err = new PassThrough()
  let errors = ''
  err.on('data', (chunk: Buffer) => { errors += chunk.toString() })
  t.equal(await main(['token', '--config', `${dir}/verify-only.yaml`, '--sub', 'x'], { stdout: new PassThrough(), stderr: err, env: {} }), 2)
  t.match(errors, /only verifies tokens; give privateKey/)
  t.equal(await main(['token', '--config', `${dir}/jwt.yaml`], { stdout: new PassThrough(), stderr: new PassThrough(), env: { JWT_SECRET } }), 2, '--sub is required')
})

t.test('tokens minted for tests are accepted (sanity for the shared fixtures)', async (t) => {
  const server = await listen(testConfig({ auth: { strategy: 'jwt', jwt: jwtSection } }))
  t.teardown(server.close)
  t.equal((await post(server.url, addCall, { authorization: `Bearer ${jwtFor('bob', ['*'])}` })).status, 200)
})

t.test('options are checked at register time', async (t) => {
  const { default: Fastify } = await import('fastify')
  const { jwtAuth } = await import('../../plugins/auth/jwt.js')
  const bad: Array<[unknown, RegExp]> = [
    [{ secret: '0123456789' }, /secret: an HMAC secret must be at least 32 bytes/],
    [{ secret: JWT_SECRET, algorithms: ['none'] }, /algorithms\[0\]: unknown or refused algorithm "none"/],
    [{ secret: JWT_SECRET, algorithms: ['HS257'] }, /algorithms\[0\]: unknown or refused algorithm "HS257"/],
    [{ secret: JWT_SECRET, algorithms: ['HS256', 'RS256'] }, /algorithms: HMAC \(HS\*\) and public-key algorithms cannot be mixed/],
    [{ publicKey: rsa.publicKey, algorithms: ['HS256'] }, /publicKey: HS\* algorithms need a secret, not a public key/],
    [{ secret: JWT_SECRET, algorithms: ['RS256'] }, /secret: RS256 need a publicKey, not a secret/],
    [{ algorithms: ['RS256'], publicKey: 'not a pem' }, /publicKey: expected a PEM public key/],
    [{ keys: [] }, /keys: Too small/],
    [{ algorithms: ['RS256'], keys: [{ kid: 'a', publicKey: rsa.publicKey }, { kid: 'a', publicKey: otherRsa.publicKey }] }, /keys: key ids \(kid\) must be unique/],
    [{}, /give exactly one of secret, publicKey, keys or jwksUrl/],
    [{ secret: JWT_SECRET, publicKey: rsa.publicKey }, /give exactly one of secret, publicKey, keys or jwksUrl/],
    [{ jwksUrl: 'https://idp.test/jwks' }, /issuer: jwksUrl needs issuer/],
    [{ jwksUrl: 'ftp://idp.test/jwks', issuer: 'x' }, /jwksUrl: expected an http\(s\) URL/]
  ]
  for (const [options, message] of bad) {
    const app = Fastify()
    await t.rejects(async () => { await app.register(jwtAuth, options as never).ready() }, { code: 'MCP_AUTH_INVALID_OPTION', message }, JSON.stringify(options).slice(0, 80))
    await app.close()
  }
})

t.test('a configured issuer or audience must be present, not just right when present', async (t) => {
  const server = await listen(testConfig({ auth: { strategy: 'jwt', jwt: jwtSection } }))
  t.teardown(server.close)
  const status = async (token: string) => (await post(server.url, addCall, { authorization: `Bearer ${token}` })).status
  t.equal(await status(hs({ ...claims(), iss: undefined })), 401, 'no iss')
  t.equal(await status(hs({ ...claims(), aud: undefined })), 401, 'no aud')
  t.equal(await status(hs(claims())), 200, 'both present')
})
