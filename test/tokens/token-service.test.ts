import t, { type Test } from 'tap'
import type { SignedToken } from '../../plugins/auth/jwt-signer.js'
import { intersectScopes, narrowScope, revocationKeys, TokenService, type TokenResponse } from '../../plugins/token-issuer/token-service.js'
import type { IssuedClaims } from '../../core/signing.js'
import { MemoryTokenStore, RedisTokenStore, type TokenStore } from '../../plugins/token-store/index.js'
import { redisTest } from '../helpers/redis.js'

const REUSE_INTERVAL = 2000

/**
 * A TokenService on `store` with a clock the test moves. Access tokens are the claims in JSON
 * (this is about refresh tokens, not signatures).
 */
function harness (stores: readonly TokenStore[], clock: { now: number }) {
  const permissions = new Map<string, readonly string[]>([['reporting', ['calculator:add', 'calculator:whoami']], ['admin', ['calculator:*']]])
  const reuses: Array<{ clientId: string, family: string }> = []
  const sign = ({ sub, permissions, ttl, extra, audience }: IssuedClaims): SignedToken =>
    ({ token: JSON.stringify({ sub, permissions, ...extra, ...(audience === undefined ? {} : { aud: audience }) }), jti: sub, expiresAt: clock.now + ttl })
  const services = stores.map((store) => new TokenService({
    store,
    sign,
    accessTokenTtl: 60_000,
    refreshTokenTtl: 3_600_000,
    clientPermissions: (clientId) => permissions.get(clientId),
    reuseInterval: REUSE_INTERVAL,
    onReuse: (details) => reuses.push(details),
    now: () => clock.now
  }))
  const store = stores[0] as TokenStore
  return {
    service: services[0] as TokenService,
    services,
    permissions,
    reuses,
    claims: (pair: TokenResponse) => JSON.parse(pair.access_token) as { sub: string, permissions: string[], fam: string, aud?: string },
    /** Whether the family of `pair` is revoked (what the MCP endpoint checks on every request). */
    familyRevoked: async (pair: TokenResponse) => await store.anyExists(revocationKeys(JSON.parse(pair.access_token) as Record<string, unknown>))
  }
}

const error = (code: string) => ({ message: /./, error: code })

async function suite (t: Test, stores: () => Promise<TokenStore[]>): Promise<void> {
  t.test('concurrent refreshes of one token: exactly one wins, the family stays', async (t) => {
    const clock = { now: Date.now() }
    const h = harness(await stores(), clock)
    const start = await h.service.issue('reporting', ['calculator:add', 'calculator:whoami'])
    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => (h.services[i % h.services.length] as TokenService).refresh('reporting', start.refresh_token)))
    const winners = results.flatMap((result) => result.status === 'fulfilled' ? [result.value] : [])
    t.equal(winners.length, 1, 'one new pair')
    for (const result of results) if (result.status === 'rejected') t.match(result.reason, error('invalid_grant'))
    t.same(h.reuses, [], 'the losers are duplicates, not reuse')
    const winner = winners[0] as TokenResponse
    t.equal(await h.familyRevoked(winner), false, 'the winner\'s access token is not revoked')
    const next = await h.service.refresh('reporting', winner.refresh_token)
    t.equal(h.claims(next).fam, h.claims(start).fam, 'and its refresh token works')
  })

  t.test('a rotated token presented again: a duplicate within the interval, reuse after it', async (t) => {
    const clock = { now: Date.now() }
    const h = harness(await stores(), clock)
    const start = await h.service.issue('reporting', ['calculator:add'])
    const current = await h.service.refresh('reporting', start.refresh_token)
    clock.now += REUSE_INTERVAL - 1
    await t.rejects(h.service.refresh('reporting', start.refresh_token), error('invalid_grant'), 'just inside the interval: refused')
    t.same(h.reuses, [], 'not reuse')
    t.equal(await h.familyRevoked(current), false, 'the family is kept')
    clock.now += 1
    await t.rejects(h.service.refresh('reporting', start.refresh_token), error('invalid_grant'), 'at the interval: refused')
    t.same(h.reuses, [{ clientId: 'reporting', family: h.claims(start).fam }], 'reported as reuse')
    t.equal(await h.familyRevoked(current), true, 'the family is revoked')
    await t.rejects(h.service.refresh('reporting', current.refresh_token), error('invalid_grant'), 'its current refresh token too')
  })

  t.test('a refused refresh changes nothing', async (t) => {
    const clock = { now: Date.now() }
    const h = harness(await stores(), clock)
    const start = await h.service.issue('reporting', ['calculator:add', 'calculator:whoami'])
    await t.rejects(h.service.refresh('reporting', start.refresh_token, { scope: 'calculator:divide' }), error('invalid_scope'))
    await t.rejects(h.service.refresh('admin', start.refresh_token), error('invalid_grant'), 'another client')
    h.permissions.delete('reporting')
    await t.rejects(h.service.refresh('reporting', start.refresh_token), error('invalid_grant'), 'a client no longer configured')
    h.permissions.set('reporting', ['calculator:add', 'calculator:whoami'])
    clock.now += 10 * REUSE_INTERVAL
    const refreshed = await h.service.refresh('reporting', start.refresh_token)
    t.equal(refreshed.scope, 'calculator:add calculator:whoami', 'the token still works, long after the refusals')
    t.same(h.reuses, [])
  })

  t.test('every refresh is bounded by the client\'s permissions now; the grant itself is kept', async (t) => {
    const clock = { now: Date.now() }
    const h = harness(await stores(), clock)
    const start = await h.service.issue('reporting', ['calculator:add', 'calculator:whoami'])
    h.permissions.set('reporting', ['calculator:whoami', 'calculator:divide'])
    const narrowed = await h.service.refresh('reporting', start.refresh_token)
    t.same(h.claims(narrowed).permissions, ['calculator:whoami'], 'the grant intersected with the config: never a permission the client lost, nor one it gained')
    await t.rejects(h.service.refresh('reporting', narrowed.refresh_token, { scope: 'calculator:add' }), error('invalid_scope'), 'a lost permission cannot be asked for')
    h.permissions.set('reporting', ['calculator:add', 'calculator:whoami'])
    const restored = await h.service.refresh('reporting', narrowed.refresh_token)
    t.same(h.claims(restored).permissions, ['calculator:add', 'calculator:whoami'], 'given back, the refresh token\'s grant applies again')

    const admin = await h.service.issue('admin', ['calculator:*'])
    h.permissions.set('admin', ['calculator:add'])
    t.same(h.claims(await h.service.refresh('admin', admin.refresh_token)).permissions, ['calculator:add'], 'a wildcard grant meets a narrower config')
  })

  t.test('the audience chosen at the endpoint is the one signed', async (t) => {
    const h = harness(await stores(), { now: Date.now() })
    const start = await h.service.issue('reporting', ['calculator:add'], { audience: 'https://calc.test/mcp' })
    t.equal(h.claims(start).aud, 'https://calc.test/mcp')
    t.equal(h.claims(await h.service.refresh('reporting', start.refresh_token)).aud, undefined, 'none asked for: the default')
  })
}

t.test('memory store', async (t) => {
  await suite(t, async () => {
    const store = new MemoryTokenStore()
    t.teardown(() => store.close())
    return [store]
  })
})

redisTest(t, 'Redis store (a real Redis), two instances', async (t, redis) => {
  await suite(t, async () => {
    const stores = [1, 2].map(() => new RedisTokenStore({ url: redis.url, keyPrefix: 'service:' }))
    t.teardown(async () => { for (const store of stores) await store.close() })
    await Promise.all(stores.map((store) => store.connected(3000)))
    return stores
  })
})

t.test('scopes: the intersection, following wildcards and the hierarchy', async (t) => {
  const hierarchy = { 'calculator:admin': ['calculator:write'], 'calculator:write': ['calculator:read'] }
  t.same(narrowScope(['calculator:admin'], 'calculator:read', hierarchy), ['calculator:read'], 'a broader scope held grants the narrower one asked for')
  t.same(narrowScope(['calculator:write'], 'calculator:admin calculator:read', hierarchy), ['calculator:read', 'calculator:write'], 'asked broader than held: what is held of it')
  t.same(narrowScope(['calculator:read'], undefined, hierarchy), ['calculator:read'], 'nothing asked: everything held')
  t.same(narrowScope([], undefined), [], 'nothing held, nothing asked: nothing')
  t.throws(() => narrowScope(['calculator:read'], 'calculator:admin'), error('invalid_scope'), 'no hierarchy: admin does not meet read')
  t.throws(() => narrowScope([], 'calculator:add'), error('invalid_scope'))
  t.same(intersectScopes(['*'], ['calculator:add', 'other:x']), ['calculator:add', 'other:x'])
  t.same(intersectScopes(['calculator:*'], ['other:*']), [])
})
