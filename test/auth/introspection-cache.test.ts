import Fastify, { type FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import { introspectionAuth } from '../../plugins/auth/introspection.js'
import { BASIC_CLIENT, startAuthorizationServer, type AuthorizationServer } from '../helpers/introspection-provider.js'

// What the introspection strategy remembers, and for how long: an accepted token's answer until
// its exp or maxCacheTtl, whichever is first; one call for concurrent requests with one token.
// Time is a clock the test moves, never a sleep.

const RESOURCE = 'https://calc.test/mcp'

async function authorizationServer (t: Test): Promise<AuthorizationServer> {
  const as = await startAuthorizationServer('calculator:add')
  t.teardown(as.close)
  return as
}

/** A bare app with the plugin, answering the principal, on a clock the test moves. */
async function app (t: Test, as: AuthorizationServer, options: Record<string, unknown>, onRequest?: () => void): Promise<{ app: FastifyInstance, clock: { ms: number } }> {
  const clock = { ms: Date.now() }
  const app = Fastify()
  t.teardown(async () => { await app.close() })
  // Runs, and returns, before the strategy's hook: the request has reached the strategy once it has.
  if (onRequest !== undefined) app.addHook('onRequest', (_request, _reply, done) => { onRequest(); done() })
  await app.register(introspectionAuth, {
    introspectionEndpoint: as.introspectionEndpoint,
    issuer: as.issuer,
    audience: RESOURCE,
    clientId: BASIC_CLIENT.clientId,
    clientSecret: BASIC_CLIENT.clientSecret,
    now: () => clock.ms,
    ...options
  })
  app.get('/principal', async (request) => request.principal)
  return { app, clock }
}

const asking = (app: FastifyInstance, token: string) => app.inject({ url: '/principal', headers: { authorization: `Bearer ${token}` } })

t.test('a revocation is seen once the cached answer is older than maxCacheTtl', async (t) => {
  const as = await authorizationServer(t)
  const { app: server, clock } = await app(t, as, { maxCacheTtl: '30s' })
  const token = await as.token('calculator:add', RESOURCE)
  t.equal((await asking(server, token)).statusCode, 200)
  await as.revoke(token)
  clock.ms += 29_000
  const cached = await asking(server, token)
  t.equal(cached.statusCode, 200, 'within maxCacheTtl the cached answer stands: the documented revocation lag')
  t.equal(as.introspections(), 1)
  clock.ms += 2_000
  const refused = await asking(server, token)
  t.equal(refused.statusCode, 401, 'past it, the server is asked again')
  t.match(refused.headers['www-authenticate'], /^Bearer realm="mcp", error="invalid_token"$/)
  t.equal(as.introspections(), 2)
})

t.test('maxCacheTtl 0: every request asks the server, and a revocation is seen at once', async (t) => {
  const as = await authorizationServer(t)
  const { app: server } = await app(t, as, { maxCacheTtl: 0 })
  const token = await as.token('calculator:add', RESOURCE)
  t.equal((await asking(server, token)).statusCode, 200)
  t.equal((await asking(server, token)).statusCode, 200)
  t.equal(as.introspections(), 2)
  await as.revoke(token)
  t.equal((await asking(server, token)).statusCode, 401)
})

t.test('the cache never outlives the token: past exp it is expired, whatever maxCacheTtl says', async (t) => {
  const as = await authorizationServer(t)
  const { app: server, clock } = await app(t, as, { maxCacheTtl: '1h' })
  const token = await as.token('calculator:add', RESOURCE)
  const first = await asking(server, token)
  t.equal(first.statusCode, 200)
  const { expiresAt } = first.json<{ expiresAt: number }>()
  t.ok(expiresAt * 1000 > clock.ms && expiresAt * 1000 <= clock.ms + 300_000 + 1000, 'the token lives 300 s (the server\'s accessTokenTTL)')
  clock.ms = expiresAt * 1000 - 1000
  t.equal((await asking(server, token)).statusCode, 200, 'a second before exp: from the cache')
  t.equal(as.introspections(), 1)
  clock.ms = expiresAt * 1000 + 1
  const expired = await asking(server, token)
  t.equal(expired.statusCode, 401, 'past exp the cache has let it go; by this clock the answer\'s exp has passed')
  t.equal(as.introspections(), 2, 'the server was asked again')
  t.match(expired.headers['www-authenticate'], /error="invalid_token", error_description="token expired"/)
  t.match(expired.json(), { code: 'MCP_AUTH_TOKEN_EXPIRED' })
})

t.test('concurrent requests with one new token make one introspection call', async (t) => {
  const as = await authorizationServer(t)
  const concurrent = 8
  let reached = 0
  let allReached: () => void = () => {}
  const everyoneIn = new Promise<void>((resolve) => { allReached = resolve })
  // maxCacheTtl 0: no answer is remembered, so only the shared call can spare the other seven.
  const { app: server } = await app(t, as, { maxCacheTtl: 0 }, () => { if (++reached === concurrent) allReached() })
  const token = await as.token('calculator:add', RESOURCE)
  const gate = as.hold()
  const answers = Promise.all(Array.from({ length: concurrent }, async () => await asking(server, token)))
  await gate.arrived
  await everyoneIn
  gate.release()
  t.same((await answers).map((answer) => answer.statusCode), Array(concurrent).fill(200))
  t.equal(as.introspections(), 1, 'one call for all eight')
  t.equal((await asking(server, token)).statusCode, 200)
  t.equal(as.introspections(), 2, 'a later request, with nothing in flight and no cache, asks again')
})
