import t from 'tap'
import { createHmac } from 'node:crypto'
import Fastify from 'fastify'
import { jwtAuth } from '../../plugins/auth/jwt.js'
import type { Principal } from '../../core/principal.js'
import { addCall, post } from '../helpers/client.js'
import { JWT_AUDIENCE, JWT_ISSUER, JWT_SECRET, jwtSection } from '../helpers/credentials.js'
import { listen, testConfig } from '../helpers/server.js'

const now = () => Math.floor(Date.now() / 1000)
const b64url = (text: string) => Buffer.from(text).toString('base64url')
const base = () => ({ sub: 'alice', permissions: ['calculator:*'], iss: JWT_ISSUER, aud: JWT_AUDIENCE, iat: now(), exp: now() + 300 })

/** A correctly signed HS256 token whose payload is exactly `json` (so numbers such as 1e400 survive). */
function signedJson (json: string, header: Record<string, unknown> = { alg: 'HS256', typ: 'JWT' }): string {
  const input = `${b64url(JSON.stringify(header))}.${b64url(json)}`
  return `${input}.${createHmac('sha256', JWT_SECRET).update(input).digest('base64url')}`
}
const signed = (claims: Record<string, unknown>) => signedJson(JSON.stringify(claims))
/** The base claims with `name` set to `raw`, a JSON text. */
const withRaw = (name: string, raw: string) => {
  const claims: Record<string, unknown> = { ...base() }
  delete claims[name]
  return signedJson(`${JSON.stringify(claims).slice(0, -1)},"${name}":${raw}}`)
}

const WRONG_TYPES: Record<string, string[]> = {
  sub: ['""', '42', '0', 'null', 'true', '["alice"]', '[]', '{}', '{"id":"alice"}'],
  permissions: ['"calculator:*"', '["calculator:*",42]', '["calculator:*",null]', '[["calculator:*"]]', '[{}]', '{}', '42', 'null', 'true'],
  scope: ['42', '["calculator:*"]', 'null', '{}', 'true'],
  exp: ['"9999999999"', 'null', '[9999999999]', 'true', '{}', '1e400'],
  nbf: ['"0"', 'null', '[0]', 'true', '{}', '-1e400'],
  iat: ['"0"', 'null', '[0]', 'true', '{}', '1e400', '-1e400'],
  fam: ['42', 'null', '["family"]', '{}', 'true'],
  jti: ['42', 'null', '["id"]', '{}', 'true'],
  // Checked by fast-jwt because an issuer and an audience are configured.
  iss: ['42', 'null', `["${JWT_ISSUER}"]`, '{}'],
  aud: ['42', 'null', '[]', `["${JWT_AUDIENCE}",42]`, '{}', `{"aud":"${JWT_AUDIENCE}"}`]
}

const RIGHT_TYPES: Record<string, string> = {
  permissions: '["calculator:add",""]',
  scope: '"calculator:add"',
  nbf: String(now() - 60),
  iat: String(now() - 60),
  fam: '"family"',
  jti: '"token-id"',
  aud: `["${JWT_AUDIENCE}","https://other.test"]`
}

t.test('every claim the strategy reads, in every wrong type, correctly signed: 401 invalid credentials', async (t) => {
  const server = await listen(testConfig({ auth: { strategy: 'jwt', jwt: jwtSection } }))
  t.teardown(server.close)
  const send = async (token: string) => await post(server.url, addCall, { authorization: `Bearer ${token}` })
  t.equal((await send(signed(base()))).status, 200, 'the base claims are accepted')
  for (const [name, raw] of Object.entries(RIGHT_TYPES)) {
    t.equal((await send(withRaw(name, raw))).status, 200, `${name}: ${raw} is the right type`)
  }
  t.equal((await send(withRaw('permissions', '[]'))).status, 403, 'permissions: [] is the right type too, and grants nothing')
  for (const [name, values] of Object.entries(WRONG_TYPES)) {
    for (const raw of values) {
      const response = await send(withRaw(name, raw))
      t.equal(response.status, 401, `${name}: ${raw}`)
      t.match(response.headers.get('www-authenticate'), /error="invalid_token"/)
      t.match(await response.json(), { code: 'MCP_AUTH_INVALID_CREDENTIALS', message: 'invalid credentials' }, `${name}: ${raw}: the body`)
    }
  }
  t.ok(server.logs.records().some((record) => record.code === 'MCP_AUTH_CLAIM_TYPE' && record.claim === 'sub'), 'the refused claim is named in the debug log')
  t.ok(server.logs.records().every((record) => typeof record.res !== 'object' || (record.res as { statusCode?: number }).statusCode !== 500), 'never a 500')
})

t.test('a refused token stays refused (the verdict is kept per verified token)', async (t) => {
  const server = await listen(testConfig({ auth: { strategy: 'jwt', jwt: jwtSection } }))
  t.teardown(server.close)
  const token = withRaw('sub', '["alice"]')
  for (let i = 0; i < 3; i++) t.equal((await post(server.url, addCall, { authorization: `Bearer ${token}` })).status, 401)
})

t.test('the configured permissions claim is the one checked and read', async (t) => {
  const server = await listen(testConfig({ auth: { strategy: 'jwt', jwt: { ...jwtSection, permissionsClaim: 'roles' } } }))
  t.teardown(server.close)
  const status = async (token: string) => (await post(server.url, addCall, { authorization: `Bearer ${token}` })).status
  const { permissions: _, ...rest } = base()
  t.equal(await status(signed({ ...rest, roles: ['calculator:add'] })), 200, 'roles as an array of strings')
  for (const raw of WRONG_TYPES.permissions ?? []) t.equal(await status(withRaw('roles', raw)), 401, `roles: ${raw}`)
  t.equal(await status(signed({ ...rest, roles: ['calculator:add'], permissions: 'not read here' })), 200, 'permissions, not configured, is not read')
  t.equal(await status(signed({ ...rest, roles: ['calculator:sqrt'] })), 403, 'and grants nothing')
})

t.test('claims are read from the token only, never from Object.prototype', async (t) => {
  const server = await listen(testConfig({ auth: { strategy: 'jwt', jwt: { ...jwtSection, permissionsClaim: 'constructor' } } }))
  t.teardown(server.close)
  const status = async (token: string) => (await post(server.url, addCall, { authorization: `Bearer ${token}` })).status
  const { permissions: _, ...rest } = base()
  t.equal(await status(signed({ ...rest, scope: 'calculator:add' })), 200, 'no constructor claim: permissions from scope')
  t.equal(await status(signed({ ...rest, constructor: ['calculator:add'] })), 200, 'a constructor claim: read')
  t.equal(await status(signed({ ...rest, constructor: 'calculator:add' })), 401, 'of the wrong type: refused')
})

t.test('permissionsClaim: scope reads the OAuth scope string', async (t) => {
  const server = await listen(testConfig({ auth: { strategy: 'jwt', jwt: { ...jwtSection, permissionsClaim: 'scope' } } }))
  t.teardown(server.close)
  const status = async (token: string) => (await post(server.url, addCall, { authorization: `Bearer ${token}` })).status
  const { permissions: _, ...rest } = base()
  t.equal(await status(signed({ ...rest, scope: 'calculator:add' })), 200)
  t.equal(await status(signed({ ...rest, scope: ['calculator:add'] })), 401)
})

t.test('maxAge: iat is required, a number, and not in the future', async (t) => {
  const server = await listen(testConfig({ auth: { strategy: 'jwt', jwt: { ...jwtSection, maxAge: '1h' } } }))
  t.teardown(server.close)
  const status = async (token: string) => (await post(server.url, addCall, { authorization: `Bearer ${token}` })).status
  const { iat: _, ...noIat } = base()
  t.equal(await status(signed(base())), 200, 'issued now')
  t.equal(await status(signed(noIat)), 401, 'no iat: the age cannot be known')
  t.equal(await status(withRaw('iat', `"${now()}"`)), 401, 'iat as a string')
  t.equal(await status(withRaw('iat', '1e400')), 401, 'iat infinite')
  t.equal(await status(signed({ ...base(), iat: now() + 10 })), 200, 'iat 10 s ahead: within the clock tolerance')
  t.equal(await status(signed({ ...base(), iat: now() + 3600, exp: now() + 7200 })), 401, 'iat an hour ahead: it would stretch maxAge')
})

t.test('without maxAge, a future iat is not refused (nothing depends on it); a wrong-typed one is', async (t) => {
  const server = await listen(testConfig({ auth: { strategy: 'jwt', jwt: jwtSection } }))
  t.teardown(server.close)
  const status = async (token: string) => (await post(server.url, addCall, { authorization: `Bearer ${token}` })).status
  t.equal(await status(signed({ ...base(), iat: now() + 3600 })), 200)
  t.equal(await status(withRaw('iat', '"yesterday"')), 401)
})

t.test('headers that are not what a JWT header is, and huge tokens: 4xx, never 5xx', async (t) => {
  const server = await listen(testConfig({
    auth: { strategy: 'jwt', jwt: { issuer: JWT_ISSUER, audience: JWT_AUDIENCE, keys: [{ kid: 'a', secret: JWT_SECRET }] } }
  }))
  t.teardown(server.close)
  const send = async (token: string) => await post(server.url, addCall, { authorization: `Bearer ${token}` })
  const payload = JSON.stringify(base())
  t.equal((await send(signedJson(payload, { alg: 'HS256', kid: 'a' }))).status, 200, 'the right kid')
  for (const header of [{ alg: 'HS256', kid: 42 }, { alg: 'HS256', kid: ['a'] }, { alg: 'HS256', kid: { a: 1 } }, { alg: 'HS256' }, { alg: 'none', kid: 'a' }, { alg: 'HS512', kid: 'a' }]) {
    t.equal((await send(signedJson(payload, header))).status, 401, JSON.stringify(header))
  }
  for (const raw of ['"a"', '[]', 'null', '42', '{', '']) {
    const input = `${b64url(raw)}.${b64url(payload)}`
    t.equal((await send(`${input}.${createHmac('sha256', JWT_SECRET).update(input).digest('base64url')}`)).status, 401, `header ${raw || '(empty)'}`)
  }
  const big = signedJson(JSON.stringify({ ...base(), permissions: [...Array(400).keys()].map((i) => `calculator:tool-${i}`).concat('calculator:*') }), { alg: 'HS256', kid: 'a' })
  t.ok(big.length > 8000, `a ${big.length}-character token`)
  t.equal((await send(big)).status, 200, 'a large, correctly signed token is served')
  const hugeHeader = signedJson(payload, { alg: 'HS256', kid: 'a'.repeat(20_000) })
  const huge = await send(hugeHeader)
  t.ok(huge.status >= 400 && huge.status < 500, `a token over Node's header limit: ${huge.status}`)
  const hugeUnderLimit = signedJson(payload, { alg: 'HS256', kid: 'b'.repeat(9000) })
  t.equal((await send(hugeUnderLimit)).status, 401, 'a 12 KB header naming no key')
})

t.test('the principal and the type checks are computed once per verified token', async (t) => {
  const app = Fastify()
  t.teardown(async () => { await app.close() })
  const seen: Array<Principal | null> = []
  await app.register(async (scope) => {
    await scope.register(jwtAuth, jwtSection)
    scope.get('/', async (request) => {
      seen.push(request.principal)
      return {}
    })
  })
  const token = signed(base())
  for (let i = 0; i < 3; i++) t.equal((await app.inject({ url: '/', headers: { authorization: `Bearer ${token}` } })).statusCode, 200)
  t.equal(seen[0], seen[1], 'the same principal object')
  t.equal(seen[1], seen[2])
  t.ok(Object.isFrozen(seen[0]))
  t.match(seen[0], { id: 'alice', strategy: 'jwt', permissions: ['calculator:*'] })
})
