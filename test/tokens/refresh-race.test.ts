import t, { type Test } from 'tap'
import { addCall, post } from '../helpers/client.js'
import { claimsOf, issuingConfig, refresh, tokens } from '../helpers/issuing.js'
import { redisTest } from '../helpers/redis.js'
import { listen, type TestServer } from '../helpers/server.js'

// Far longer than the race takes, however slow the machine: every loser is a duplicate, none is
// reuse. What happens after the interval is tested on a clock the test moves (token-service.test.ts)
// and, end to end, with an interval of 0 (below and redis-instances.test.ts).
const INTERVAL = 60_000
const RACERS = 12

/** Concurrent refreshes of one token (spread over `servers`): one wins, the family stays. */
async function race (t: Test, servers: readonly TestServer[]): Promise<void> {
  const [first] = servers as [TestServer]
  const mcpStatus = async (server: TestServer, access: unknown) => (await post(server.url, addCall, { authorization: `Bearer ${String(access)}` })).status
  const reuses = () => servers.flatMap((server) => server.logs.records().filter((r) => r.reason === 'refresh_token_reuse'))
  const start = await tokens(first.url.origin)

  const answers = await Promise.all(Array.from({ length: RACERS }, (_, i) => refresh((servers[i % servers.length] as TestServer).url.origin, start.refresh)))
  const winners = answers.filter((answer) => answer.status === 200)
  t.equal(winners.length, 1, 'exactly one refresh wins')
  t.same(answers.filter((answer) => answer.status !== 200).map((answer) => [answer.status, answer.body.error]), Array(RACERS - 1).fill([400, 'invalid_grant']), 'the others get invalid_grant')
  t.same(reuses(), [], 'duplicates within the interval are not reuse')
  const winner = winners[0]?.body ?? {}
  t.equal(claimsOf(winner.access_token).fam, claimsOf(start.access).fam, 'the winner\'s pair is in the family')
  for (const server of servers) t.equal(await mcpStatus(server, winner.access_token), 200, 'the winner\'s access token works')
  const next = await refresh(first.url.origin, String(winner.refresh_token))
  t.equal(next.status, 200, 'and its refresh token')
}

t.test('one instance, memory store', async (t) => {
  const server = await listen(issuingConfig(undefined, { refreshReuseInterval: INTERVAL }))
  t.teardown(server.close)
  await race(t, [server])
})

t.test('the default interval is 2 s: an immediate replay is a duplicate', async (t) => {
  const server = await listen(issuingConfig(undefined, { refreshReuseInterval: null }))
  t.teardown(server.close)
  const start = await tokens(server.url.origin)
  const current = await refresh(server.url.origin, start.refresh)
  t.equal((await refresh(server.url.origin, start.refresh)).body.error, 'invalid_grant')
  t.equal((await refresh(server.url.origin, String(current.body.refresh_token))).status, 200, 'the family is kept')
  t.notOk(server.logs.records().some((r) => r.reason === 'refresh_token_reuse'))
})

t.test('with an interval of 0, a used refresh token presented again is reuse at once: the family is revoked', async (t) => {
  const server = await listen(issuingConfig(undefined, { refreshReuseInterval: 0 }))
  t.teardown(server.close)
  const start = await tokens(server.url.origin)
  const current = await refresh(server.url.origin, start.refresh)
  t.equal((await refresh(server.url.origin, start.refresh)).body.error, 'invalid_grant')
  t.match(server.logs.records().filter((r) => r.reason === 'refresh_token_reuse'), [{ event: 'security', principal: 'reporting' }])
  t.equal((await refresh(server.url.origin, String(current.body.refresh_token))).body.error, 'invalid_grant', 'the family\'s current refresh token is revoked')
  t.equal((await post(server.url, addCall, { authorization: `Bearer ${String(current.body.access_token)}` })).status, 401, 'and its access token')
})

redisTest(t, 'two instances sharing one Redis', async (t, redis) => {
  const servers = [await listen(issuingConfig(redis.url, { refreshReuseInterval: INTERVAL })), await listen(issuingConfig(redis.url, { refreshReuseInterval: INTERVAL }))]
  t.teardown(async () => { for (const server of servers) await server.close() })
  await race(t, servers)
})
