import t, { type Test } from 'tap'
import { Redis } from 'ioredis'
import { MemoryTokenStore, RedisTokenStore, type TokenStore } from '../../plugins/token-store/index.js'
import { redisTest } from '../helpers/redis.js'

/** What every token store must do; run against memory and against a real Redis. */
async function contract (t: Test, stores: () => [TokenStore, TokenStore]): Promise<void> {
  const [a, b] = stores()
  t.teardown(async () => { await a.close(); await b.close() })

  t.equal(await a.get('missing'), undefined)
  await a.put('k', 'v', 60_000)
  t.equal(await a.get('k'), 'v')
  t.equal(await a.anyExists(['nope', 'k']), true)
  t.equal(await a.anyExists(['nope']), false)
  t.equal(await a.anyExists([]), false)
  t.equal(await a.take('k'), 'v', 'take returns the value')
  t.equal(await a.take('k'), undefined, 'and removes it')
  await a.put('d', 'v', 60_000)
  await a.delete('d')
  t.equal(await a.get('d'), undefined)
  await a.put('zero', 'v', 0)
  t.equal(await a.get('zero'), undefined, 'nothing is stored without a lifetime')
  t.equal(await a.ready(), true)

  await a.put('race', 'once', 60_000)
  const takers = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).take('race')))
  t.equal(takers.filter((value) => value === 'once').length, 1, 'of concurrent takers exactly one gets the value')

  t.equal(await a.swap('absent', [{ key: 'written', value: 'w', ttlMs: 60_000 }]), undefined, 'swap of a missing key returns undefined')
  t.equal(await a.get('written'), undefined, 'and writes nothing')
  await a.put('old', 'v', 60_000)
  t.equal(await a.swap('old', [{ key: 'new', value: 'n', ttlMs: 60_000 }, { key: 'marker', value: 'm', ttlMs: 60_000 }, { key: 'none', value: 'x', ttlMs: 0 }]), 'v', 'swap returns the value')
  t.same([await a.get('old'), await a.get('new'), await a.get('marker'), await a.get('none')], [undefined, 'n', 'm', undefined], 'removes the key, writes the entries that have a lifetime')
  t.equal(await a.swap('old', [{ key: 'again', value: 'a', ttlMs: 60_000 }]), undefined, 'a second swap finds nothing')
  t.equal(await a.get('again'), undefined)

  await a.put('contested', 'once', 60_000)
  const swaps = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).swap('contested', [{ key: 'winner', value: String(i), ttlMs: 60_000 }])))
  const winners = swaps.flatMap((value, i) => value === 'once' ? [i] : [])
  t.equal(winners.length, 1, 'of concurrent swaps exactly one wins')
  t.equal(await b.get('winner'), String(winners[0]), 'and only its writes are made')

  t.equal(await a.rememberOnce('once', 60_000), true, 'rememberOnce of a new key writes it')
  t.equal(await b.rememberOnce('once', 60_000), false, 'a second rememberOnce of it is refused, from any client')
  t.equal(await a.anyExists(['once']), true)
  const remembers = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).rememberOnce('contested-once', 60_000)))
  t.equal(remembers.filter((first) => first).length, 1, 'of concurrent rememberOnce calls exactly one writes the key')
  t.equal(await a.rememberOnce('no-lifetime', 0), true, 'a lifetime of 0 still remembers the key (for at least 1 ms)')
}

t.test('memory store', async (t) => {
  let now = 0
  const shared = new MemoryTokenStore({ now: () => now })
  await contract(t, () => [shared, shared])
  const store = new MemoryTokenStore({ now: () => now })
  t.teardown(() => store.close())
  await store.put('short', 'v', 1000)
  now += 999
  t.equal(await store.get('short'), 'v')
  now += 1
  t.equal(await store.get('short'), undefined, 'gone when its lifetime ends')
  await store.put('swept', 'v', 10)
  now += 10
  t.equal(await store.rememberOnce('remembered', 500), true)
  now += 499
  t.equal(await store.rememberOnce('remembered', 500), false, 'remembered for its lifetime')
  now += 1
  t.equal(await store.rememberOnce('remembered', 500), true, 'and free again once it ends')
  now += 500
  store.sweep()
  t.equal(store.size, 0, 'the sweep drops expired entries: nothing grows without bound')
})

redisTest(t, 'Redis store (a real Redis), shared by two clients', async (t, redis) => {
  const make = () => new RedisTokenStore({ url: redis.url, keyPrefix: 'contract:' })
  const first = make()
  const second = make()
  await Promise.all([first.connected(3000), second.connected(3000)])
  await contract(t, () => [first, second])

  const inspect = new Redis(redis.url)
  t.teardown(() => inspect.disconnect())
  const store = make()
  t.teardown(() => store.close())
  await store.connected(3000)
  await store.put('ttl', 'v', 5000)
  const ttl = await inspect.pttl('contract:ttl')
  t.ok(ttl > 0 && ttl <= 5000, `every key expires with its token (PTTL ${ttl})`)
  t.equal(await inspect.get('contract:ttl'), 'v', 'keys are prefixed')
  await store.put('from', 'v', 60_000)
  await store.swap('from', [{ key: 'to', value: 'w', ttlMs: 5000 }])
  const swapped = await inspect.pttl('contract:to')
  t.ok(swapped > 0 && swapped <= 5000, `swap writes with the lifetime given, under the prefix (PTTL ${swapped})`)
  t.equal(await inspect.exists('contract:from', 'from', 'to'), 0, 'and nothing outside it')
  await store.rememberOnce('jti', 5000)
  const remembered = await inspect.pttl('contract:jti')
  t.ok(remembered > 0 && remembered <= 5000, `rememberOnce writes with the lifetime given, under the prefix (PTTL ${remembered})`)
})

redisTest(t, 'an unreachable Redis fails closed', async (t, redis) => {
  const store = new RedisTokenStore({ url: redis.url, keyPrefix: 'down:' })
  t.teardown(() => store.close())
  await store.connected(3000)
  await redis.stop()
  const operations: Array<() => Promise<unknown>> = [() => store.get('k'), () => store.put('k', 'v', 1000), () => store.take('k'), () => store.anyExists(['k']), () => store.swap('k', [{ key: 'l', value: 'v', ttlMs: 1000 }]), () => store.rememberOnce('k', 1000)]
  for (const operation of operations) {
    await t.rejects(operation(), { code: 'MCP_AUTH_STORE_UNAVAILABLE', statusCode: 503 })
  }
  t.equal(await store.ready(), false)
}, { own: true })
