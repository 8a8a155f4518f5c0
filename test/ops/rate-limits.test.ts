import t from 'tap'
import { addCall, post } from '../helpers/client.js'
import { redisTest } from '../helpers/redis.js'
import { listen, testConfig, type TestServer } from '../helpers/server.js'

const ALICE = 'alice-rate-key-0123456789abcdefghij'
const BOB = 'bob-rate-key-0123456789abcdefghijkl'
const auth = { strategy: 'api-key', apiKey: { keys: [{ id: 'alice', key: ALICE, permissions: ['*'] }, { id: 'bob', key: BOB, permissions: ['*'] }] } }
const call = (name: string) => ({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: { a: 2, b: 3 } } })

t.test('per principal: the limit, the headers, the 429 body; other principals and unauthenticated clients are separate', async (t) => {
  const server = await listen(testConfig({ auth, rateLimit: { max: 3, timeWindow: '1m' } }))
  t.teardown(server.close)
  for (let i = 0; i < 10; i++) t.equal((await post(server.url, addCall)).status, 401)
  for (let i = 1; i <= 3; i++) {
    const ok = await post(server.url, addCall, { 'x-api-key': ALICE })
    t.equal(ok.status, 200, `request ${i}`)
    t.equal(ok.headers.get('ratelimit-limit'), '3')
    t.equal(ok.headers.get('ratelimit-remaining'), String(3 - i))
  }
  const limited = await post(server.url, addCall, { 'x-api-key': ALICE })
  t.equal(limited.status, 429, 'the fourth is refused: ten unauthenticated requests spent none of alice\'s budget')
  t.match(limited.headers.get('retry-after'), /^\d+$/)
  t.same(await limited.json(), { statusCode: 429, code: 'MCP_AUTH_RATE_LIMITED', error: 'Too Many Requests', message: `rate limit exceeded: too many requests, retry in ${limited.headers.get('retry-after') ?? ''} s` })
  t.equal((await post(server.url, addCall, { 'x-api-key': BOB })).status, 200, 'bob has his own budget')
  t.match(server.logs.records().find((r) => r.event === 'rate_limit'), { limit: 'principal', principal: 'alice' })
})

t.test('per tool: calls of a limited tool, by body or Mcp-Name header', async (t) => {
  const server = await listen(testConfig({ auth, rateLimit: { tools: { power: { max: 2, timeWindow: '1m' } } } }))
  t.teardown(server.close)
  t.equal((await post(server.url, call('power'), { 'x-api-key': ALICE })).status, 200)
  t.equal((await post(server.url, call('power'), { 'x-api-key': ALICE, 'mcp-name': 'power' })).status, 200)
  const limited = await post(server.url, call('power'), { 'x-api-key': ALICE })
  t.equal(limited.status, 429)
  t.match(await limited.json(), { code: 'MCP_AUTH_RATE_LIMITED', message: /too many power calls/ })
  t.equal((await post(server.url, call('add'), { 'x-api-key': ALICE })).status, 200, 'other tools are not limited')
  t.equal((await post(server.url, call('power'), { 'x-api-key': BOB })).status, 200, 'and other principals have their own count')
  t.equal((await post(server.url, [call('add'), call('power')], { 'x-api-key': ALICE })).status, 429, 'a batch that calls it counts too')
})

redisTest(t, 'counters shared by two instances through Redis', async (t, redis) => {
  const config = () => testConfig({ auth, rateLimit: { max: 3, timeWindow: '1m', redisUrl: redis.url, failedAuth: { max: 2, timeWindow: '1m' } } })
  const a: TestServer = await listen(config())
  const b: TestServer = await listen(config())
  t.teardown(async () => { await a.close(); await b.close() })
  t.equal((await post(a.url, addCall, { 'x-api-key': ALICE })).status, 200)
  t.equal((await post(b.url, addCall, { 'x-api-key': ALICE })).status, 200)
  t.equal((await post(a.url, addCall, { 'x-api-key': ALICE })).status, 200)
  t.equal((await post(b.url, addCall, { 'x-api-key': ALICE })).status, 429, 'the fourth request, on the other instance')
  const wrong = { 'x-api-key': 'wrong-key-0123456789abcdefghijklm' }
  t.equal((await post(a.url, addCall, wrong)).status, 401)
  t.equal((await post(b.url, addCall, wrong)).status, 401)
  t.equal((await post(a.url, addCall, wrong)).status, 429, 'failures counted across instances too')
})

redisTest(t, 'the Redis holding the counters goes away: requests fail closed', async (t, redis) => {
  const server = await listen(testConfig({ auth, rateLimit: { max: 3, timeWindow: '1m', redisUrl: redis.url } }))
  t.teardown(server.close)
  t.equal((await post(server.url, addCall, { 'x-api-key': ALICE })).status, 200)
  await redis.stop()
  const down = await post(server.url, addCall, { 'x-api-key': BOB })
  t.equal(down.status, 503)
  t.match(await down.json(), { code: 'MCP_AUTH_RATE_LIMIT_UNAVAILABLE', message: /rate-limit store unreachable/ })
}, { own: true })
