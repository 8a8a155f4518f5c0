import t from 'tap'
import { addCall, post } from '../helpers/client.js'
import { ADMIN, REPORTING, basic, claimsOf, issuingConfig, oauthPost, refresh as refreshAt, tokens } from '../helpers/issuing.js'
import { redisTest } from '../helpers/redis.js'
import { listen, type TestServer } from '../helpers/server.js'

// Two app instances sharing one real redis-server, as two replicas behind a load balancer would.
redisTest(t, 'two instances sharing one Redis', async (t, redis) => {
  const instances: TestServer[] = []
  t.teardown(async () => { for (const instance of instances) await instance.close() })
  // A replay is reuse at once here (refresh-race.test.ts covers the duplicate-submission interval).
  async function instance (options: Parameters<typeof issuingConfig>[1] = {}): Promise<TestServer> {
    const server = await listen(issuingConfig(redis.url, { refreshReuseInterval: 0, ...options }))
    instances.push(server)
    return server
  }
  const a = await instance()
  const b = await instance()
  const mcp = async (server: TestServer, access: string) => await post(server.url, addCall, { authorization: `Bearer ${access}` })
  const refresh = async (server: TestServer, refreshToken: string) =>
    await oauthPost(server.url.origin, '/oauth/token', { grant_type: 'refresh_token', refresh_token: refreshToken }, { authorization: basic(REPORTING) })

  t.test('a token issued by one instance is accepted by the other', async (t) => {
    const pair = await tokens(a.url.origin)
    t.equal((await mcp(b, pair.access)).status, 200)
    const refreshed = await refresh(b, pair.refresh)
    t.equal(refreshed.status, 200, 'and refreshed there')
  })

  t.test('a revocation on one instance is refused by the other on the next request', async (t) => {
    const pair = await tokens(a.url.origin)
    t.equal((await mcp(b, pair.access)).status, 200)
    await oauthPost(a.url.origin, '/oauth/revoke', { token: pair.access }, { authorization: basic(REPORTING) })
    const refused = await mcp(b, pair.access)
    t.equal(refused.status, 401)
    t.match(await refused.json(), { code: 'MCP_AUTH_TOKEN_REVOKED' })
  })

  t.test('refresh on one, replay of the old refresh token on the other: the family is revoked everywhere', async (t) => {
    const first = await tokens(a.url.origin)
    const rotated = await refresh(a, first.refresh)
    const current = { access: String(rotated.body.access_token), refresh: String(rotated.body.refresh_token) }
    const replay = await refresh(b, first.refresh)
    t.equal(replay.body.error, 'invalid_grant')
    t.equal((await refresh(a, current.refresh)).body.error, 'invalid_grant', 'the current refresh token is dead')
    t.equal((await mcp(a, current.access)).status, 401, 'its access token too, on A')
    t.equal((await mcp(b, current.access)).status, 401, 'and on B')
    t.ok(b.logs.records().some((r) => r.reason === 'refresh_token_reuse'), 'B logged the reuse')
  })

  t.test('an instance restart loses no refresh token and no revocation', async (t) => {
    const kept = await tokens(a.url.origin)
    const revoked = await tokens(a.url.origin)
    await oauthPost(a.url.origin, '/oauth/revoke', { token: revoked.access }, { authorization: basic(REPORTING) })
    await a.close()
    instances.splice(instances.indexOf(a), 1)
    const restarted = await instance()
    t.equal((await refresh(restarted, kept.refresh)).status, 200, 'the refresh token survived')
    t.equal((await mcp(restarted, revoked.access)).status, 401, 'the revocation survived')
  })

  t.test('a client narrowed or removed in the config: its refresh tokens follow at once, across a restart', async (t) => {
    const reporting = await tokens(b.url.origin)
    const admin = await tokens(b.url.origin, ADMIN)
    const reconfigured = await instance({ clients: [{ client: REPORTING, permissions: ['calculator:whoami'] }] })
    const narrowed = await refreshAt(reconfigured.url.origin, reporting.refresh)
    t.equal(narrowed.status, 200)
    t.equal(narrowed.body.scope, 'calculator:whoami', 'the old grant, bounded by the new config')
    t.same(claimsOf(narrowed.body.access_token).permissions, ['calculator:whoami'])
    const add = await mcp(reconfigured, String(narrowed.body.access_token))
    t.equal(add.status, 403, 'the token no longer opens add')
    t.match(await add.json(), { error: { message: 'Permission denied: calculator:add' } })
    const removed = await refreshAt(reconfigured.url.origin, admin.refresh, ADMIN)
    t.same([removed.status, removed.body.error], [401, 'invalid_client'], 'a removed client cannot even authenticate')
    t.equal((await refreshAt(b.url.origin, admin.refresh, ADMIN)).status, 200, 'and that did not use its token up where it is still configured')
  })
})

redisTest(t, 'Redis unreachable: token requests and token checks fail closed with 503', async (t, redis) => {
  const b = await listen(issuingConfig(redis.url))
  t.teardown(b.close)
  const mcp = async (server: TestServer, access: string) => await post(server.url, addCall, { authorization: `Bearer ${access}` })
  const pair = await tokens(b.url.origin)
  await redis.stop()
  const token = await oauthPost(b.url.origin, '/oauth/token', { grant_type: 'client_credentials' }, { authorization: basic(REPORTING) })
  t.equal(token.status, 503)
  t.match(token.body, { error: 'temporarily_unavailable', error_description: /token store unreachable/ })
  t.equal(token.headers.get('retry-after'), '1')
  const check = await mcp(b, pair.access)
  t.equal(check.status, 503, 'a token that cannot be checked for revocation is not accepted')
  t.match(await check.json(), { code: 'MCP_AUTH_STORE_UNAVAILABLE', message: /token store unreachable/ })
  await redis.start()
  // ioredis reconnects on its own; readiness is polled (issue 7 adds /readyz), not slept on.
  let status = 0
  for (let attempt = 0; attempt < 100 && status !== 200; attempt++) {
    status = (await mcp(b, pair.access)).status
    if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 50))
  }
  t.equal(status, 200, 'served again once Redis is back')
}, { own: true })
