import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import { addCall, post } from '../helpers/client.js'
import { claimsOf, issuingConfig, refresh, tokens } from '../helpers/issuing.js'
import { redisTest } from '../helpers/redis.js'
import { listen, type TestServer } from '../helpers/server.js'

// Short enough to wait out, long enough for the racers to all arrive within it; the default is 2 s.
const INTERVAL = 1000
const RACERS = 12

/** Concurrent refreshes of one token (spread over `servers`), then a replay once the interval is over. */
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

  await sleep(INTERVAL)
  const replay = await refresh((servers[servers.length - 1] as TestServer).url.origin, start.refresh)
  t.equal(replay.body.error, 'invalid_grant', 'after the interval a replay is refused')
  t.match(reuses(), [{ event: 'security', principal: 'reporting' }], 'as reuse')
  t.equal((await refresh(first.url.origin, String(next.body.refresh_token))).body.error, 'invalid_grant', 'the family\'s current refresh token is revoked')
  for (const server of servers) t.equal(await mcpStatus(server, next.body.access_token), 401, 'and its access token')
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

redisTest(t, 'two instances sharing one Redis', async (t, redis) => {
  const servers = [await listen(issuingConfig(redis.url, { refreshReuseInterval: INTERVAL })), await listen(issuingConfig(redis.url, { refreshReuseInterval: INTERVAL }))]
  t.teardown(async () => { for (const server of servers) await server.close() })
  await race(t, servers)
})
