import t from 'tap'
import { generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createSigner } from 'fast-jwt'
import { algorithmsOf, createJwksKeySet, type JwksOptions } from '../../plugins/auth/jwks.js'
import type { JwtAlgorithm } from '../../plugins/auth/jwt-options.js'
import { addCall, post } from '../helpers/client.js'
import { listen, testConfig } from '../helpers/server.js'

const ISSUER = 'https://idp.test'

interface TestKey { kid: string, privateKey: string, jwk: Record<string, unknown> }

function key (kid: string, type: 'rsa' | 'ec' | 'ed25519', jwkExtra: Record<string, unknown> = {}): TestKey {
  const pair: { publicKey: KeyObject, privateKey: KeyObject } = type === 'rsa'
    ? generateKeyPairSync('rsa', { modulusLength: 2048 })
    : type === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('ed25519')
  return {
    kid,
    privateKey: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    jwk: { ...pair.publicKey.export({ format: 'jwk' }), kid, use: 'sig', ...jwkExtra }
  }
}

const rsa = key('rsa-1', 'rsa', { alg: 'RS256' })
const rsaNoAlg = key('rsa-any', 'rsa')
const ec = key('ec-1', 'ec', { alg: 'ES256' })
const ed = key('ed-1', 'ed25519')
const added = key('added-later', 'rsa', { alg: 'RS256' })
const PUBLISHED = [rsa.jwk, rsaNoAlg.jwk, ec.jwk, ed.jwk]

type Answer = 'jwks' | 500 | 'not json' | 'not a jwks' | 'hang'

/** A JWKS endpoint on loopback that counts its fetches; what it answers can change during a test. */
async function jwksServer (keys: unknown[] = PUBLISHED): Promise<{ url: string, fetches: () => number, publish: (keys: unknown[]) => void, answer: (answer: Answer) => void, close: () => Promise<void> }> {
  let fetches = 0
  let published = keys
  let mode: Answer = 'jwks'
  const server: Server = createServer((request, response) => {
    fetches++
    if (mode === 'hang') return
    if (mode === 500) response.writeHead(500).end('{"error":"down"}')
    else if (mode === 'not json') response.writeHead(200, { 'content-type': 'application/json' }).end('<html>')
    else if (mode === 'not a jwks') response.writeHead(200, { 'content-type': 'application/json' }).end('{"keys":"none"}')
    else response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: published }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`,
    fetches: () => fetches,
    publish: (next) => { published = next },
    answer: (next) => { mode = next },
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}

/** A key set whose verifiers are what the set chose (the key and its algorithms), on a clock the test moves. */
function keySet (url: string, overrides: Partial<Omit<JwksOptions<unknown>, 'verifierFor'>> = {}) {
  const clock = { now: 1_000_000 }
  const failures: string[] = []
  const set = createJwksKeySet<{ publicKey: string, algorithms: JwtAlgorithm[] }>({
    jwksUrl: url,
    algorithms: ['RS256', 'PS256', 'ES256', 'ES384', 'EdDSA'],
    cacheTtl: 600_000,
    refetchInterval: 30_000,
    verifierFor: (publicKey, algorithms) => ({ publicKey, algorithms }),
    onFetchFailed: (reason) => { failures.push(reason) },
    now: () => clock.now,
    ...overrides
  })
  return { set, clock, failures }
}

t.test('one fetch per refetch interval, whatever the kid and alg mix', async (t) => {
  const jwks = await jwksServer()
  t.teardown(jwks.close)
  const { set, clock } = keySet(jwks.url)
  const mix: Array<[unknown, unknown]> = []
  for (let i = 0; i < 40; i++) {
    mix.push([`made-up-${i}`, 'RS256'], ['rsa-1', `XS${i}`], ['rsa-1', 'PS256'], [randomUUID(), 'none'], [i, 'RS256'], ['ec-1', 'ES384'])
  }
  for (const [kid, alg] of mix) t.equal(await set.resolve(kid, alg), undefined, `${String(kid)} ${String(alg)}`)
  t.equal(jwks.fetches(), 1, `${mix.length} refused lookups on a fresh set: one fetch`)
  t.ok(set.resolve('rsa-1', 'RS256'), 'the real keys were all fetched')

  clock.now += 29_999
  for (const [kid, alg] of mix) await set.resolve(kid, alg)
  t.equal(jwks.fetches(), 1, 'still one, just before the interval ends')
  clock.now += 1
  for (const [kid, alg] of mix) await set.resolve(kid, alg)
  t.equal(jwks.fetches(), 2, 'one more once it has ended')
})

t.test('concurrent lookups on a fresh set share one fetch', async (t) => {
  const jwks = await jwksServer()
  t.teardown(jwks.close)
  const { set } = keySet(jwks.url)
  const found = await Promise.all([...Array(30).keys()].map(async (i) => await set.resolve(i % 2 === 0 ? `made-up-${i}` : 'ec-1', 'ES256')))
  t.equal(jwks.fetches(), 1)
  t.equal(found.filter((verifier) => verifier !== undefined).length, 15, 'every lookup of the real kid found it')
})

t.test('every key a fetch returned is usable at once, whichever kid caused the fetch', async (t) => {
  const jwks = await jwksServer()
  t.teardown(jwks.close)
  const { set, clock } = keySet(jwks.url)
  t.equal(await set.resolve('made-up', 'RS256'), undefined)
  for (const [kid, alg] of [['rsa-1', 'RS256'], ['rsa-any', 'PS256'], ['ec-1', 'ES256'], ['ed-1', 'EdDSA']] as const) {
    const verifier = set.resolve(kid, alg)
    t.notOk(verifier instanceof Promise, `${kid}: no wait`)
    t.ok(verifier, `${kid}: found`)
  }
  t.equal(jwks.fetches(), 1)

  jwks.publish([...PUBLISHED, added.jwk])
  t.equal(await set.resolve('added-later', 'RS256'), undefined, 'a key published after the fetch, within the interval: refused')
  clock.now += 30_000
  t.equal(await set.resolve('made-up-again', 'RS256'), undefined, 'another made-up kid, once the interval has passed, causes a fetch')
  t.equal(jwks.fetches(), 2)
  t.ok(set.resolve('added-later', 'RS256'), 'which made the new key usable')
  t.equal(jwks.fetches(), 2, 'without a fetch of its own')
})

t.test('the key decides the algorithm; refused lookups never evict a key', async (t) => {
  const jwks = await jwksServer([...PUBLISHED,
    { ...key('oct', 'rsa').jwk, kty: 'oct', k: 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA' },
    key('enc', 'rsa', { use: 'enc' }).jwk,
    key('ops', 'rsa', { key_ops: ['encrypt'] }).jwk,
    key('verify-op', 'rsa', { key_ops: ['verify'] }).jwk,
    key('wrong-alg', 'rsa', { alg: 'ES256' }).jwk,
    key('unconfigured', 'rsa', { alg: 'RS512' }).jwk,
    { ...key('private', 'ed25519').jwk, d: 'bm90LWEtcmVhbC1wcml2YXRlLWtleQ' },
    { kty: 'RSA', kid: 'weak', n: Buffer.alloc(128, 0xff).toString('base64url'), e: 'AQAB', alg: 'RS256' },
    { kty: 'EC', kid: 'broken', crv: 'P-256', x: 'AA', y: 'AA', alg: 'ES256' },
    { ...key('no-kid', 'rsa').jwk, kid: undefined },
    'not an object',
    null
  ])
  t.teardown(jwks.close)
  const { set } = keySet(jwks.url)
  const chosen = async (kid: string, alg: string) => (await set.resolve(kid, alg))?.algorithms
  t.same(await chosen('rsa-1', 'RS256'), ['RS256'], 'a JWK with alg: that algorithm only')
  t.equal(await chosen('rsa-1', 'PS256'), undefined, 'not another one the key type allows, though configured')
  t.same(await chosen('rsa-any', 'PS256'), ['RS256', 'PS256'], 'no alg: the configured algorithms its type allows')
  t.same(await chosen('ec-1', 'ES256'), ['ES256'])
  t.equal(await chosen('ec-1', 'ES384'), undefined, 'a P-256 key never verifies ES384')
  t.same(await chosen('ed-1', 'EdDSA'), ['EdDSA'])
  t.same(await chosen('verify-op', 'RS256'), ['RS256', 'PS256'], 'key_ops with verify')
  for (const kid of ['oct', 'enc', 'ops', 'wrong-alg', 'unconfigured', 'private', 'weak', 'no-kid']) {
    t.equal(await chosen(kid, 'RS256'), undefined, `${kid}: never used`)
  }
  t.equal(await chosen('broken', 'ES256'), undefined, 'broken: never used')
  for (let i = 0; i < 10; i++) await set.resolve('rsa-1', ['PS256', 'HS256', 'none', 'ES256'][i % 4])
  t.same(await chosen('rsa-1', 'RS256'), ['RS256'], 'the key survives refused lookups')
  t.equal(jwks.fetches(), 1, 'which fetched nothing')
})

t.test('algorithmsOf', async (t) => {
  const all: JwtAlgorithm[] = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA']
  t.same(algorithmsOf({ kty: 'EC', crv: 'P-384' }, all), ['ES384'])
  t.same(algorithmsOf({ kty: 'EC', crv: 'P-521' }, all), ['ES512'])
  t.same(algorithmsOf({ kty: 'OKP', crv: 'Ed448' }, all), ['EdDSA'])
  t.same(algorithmsOf({ kty: 'OKP', crv: 'X25519' }, all), [], 'a key-agreement curve')
  t.same(algorithmsOf({ kty: 'EC', crv: 'Ed25519' }, all), [], 'a curve of another key type')
  t.same(algorithmsOf({ kty: 'RSA', alg: 'RSA-OAEP' }, all), [], 'an encryption alg')
  t.same(algorithmsOf({ kty: 'RSA', key_ops: 'verify' }, all), [], 'key_ops that is not an array')
  t.same(algorithmsOf({ kty: 'RSA', use: 'sig' }, ['RS256']), ['RS256'])
})

t.test('a stale set serves while it is refreshed; a key the provider removed then goes', async (t) => {
  const jwks = await jwksServer()
  t.teardown(jwks.close)
  const { set, clock } = keySet(jwks.url, { cacheTtl: 60_000 })
  t.ok(await set.resolve('rsa-1', 'RS256'))
  jwks.publish([rsaNoAlg.jwk, added.jwk])
  clock.now += 60_000
  const stale = set.resolve('rsa-1', 'RS256')
  t.notOk(stale instanceof Promise, 'the known key answers at once')
  t.ok(stale, 'from the stale set, while it starts a fetch in the background')
  t.ok(await set.resolve('added-later', 'RS256'), 'a lookup of an unknown kid waits for that fetch')
  t.equal(jwks.fetches(), 2, 'one fetch for both')
  t.equal(await set.resolve('rsa-1', 'RS256'), undefined, 'the removed key is gone')
  t.equal(jwks.fetches(), 2)
})

t.test('a failed fetch keeps the previous set and is retried only after the interval', async (t) => {
  const jwks = await jwksServer()
  t.teardown(jwks.close)
  const { set, clock, failures } = keySet(jwks.url, { cacheTtl: 0, timeout: 200 })
  t.ok(await set.resolve('rsa-1', 'RS256'))
  const answers: Answer[] = [500, 'not json', 'not a jwks', 'hang']
  for (const answer of answers) {
    jwks.answer(answer)
    clock.now += 30_000
    t.equal(await set.resolve('made-up', 'RS256'), undefined, `${answer}: the unknown kid is refused`)
    t.ok(set.resolve('rsa-1', 'RS256'), `${answer}: the known key still works`)
  }
  t.same(failures, ['HTTP 500', 'unreachable, or not JSON', 'not a JWKS (no "keys" array)', 'timed out'])
  t.equal(jwks.fetches(), 5, 'one fetch per interval, failed or not')
})

t.test('a provider that is down at first: refused, retried after the interval', async (t) => {
  const jwks = await jwksServer()
  t.teardown(jwks.close)
  jwks.answer(500)
  const { set, clock, failures } = keySet(jwks.url)
  t.equal(await set.resolve('rsa-1', 'RS256'), undefined)
  t.equal(await set.resolve('rsa-1', 'RS256'), undefined)
  t.equal(jwks.fetches(), 1)
  jwks.answer('jwks')
  clock.now += 30_000
  t.ok(await set.resolve('rsa-1', 'RS256'))
  t.equal(jwks.fetches(), 2)
  t.same(failures, ['HTTP 500'])
})

const sign = (signer: TestKey, algorithm: string, claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}) =>
  createSigner({ key: signer.privateKey, algorithm: algorithm as 'RS256', kid: signer.kid, ...header })({
    sub: 'alice', iss: ISSUER, permissions: ['calculator:*'], exp: Math.floor(Date.now() / 1000) + 300, ...claims
  })

t.test('end to end: keys of each type, the key\'s alg, and a fresh server under a flood', async (t) => {
  const jwks = await jwksServer()
  t.teardown(jwks.close)
  const server = await listen(testConfig({
    auth: { strategy: 'jwt', jwt: { jwksUrl: jwks.url, issuer: ISSUER, algorithms: ['RS256', 'PS256', 'ES256', 'EdDSA'], jwksRefetchInterval: '1h' } }
  }))
  t.teardown(server.close)
  const status = async (token: string) => (await post(server.url, addCall, { authorization: `Bearer ${token}` })).status

  const real = sign(rsa, 'RS256')
  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
  const payload = real.split('.')[1] ?? ''
  const flood = [
    ...[...Array(20).keys()].map((i) => `${b64({ alg: 'RS256', kid: `made-up-${i}` })}.${payload}.`),
    ...[...Array(20).keys()].map((i) => `${b64({ alg: `XS${i}`, kid: 'rsa-1' })}.${payload}.`),
    `${b64({ alg: 'HS256', kid: 'rsa-1' })}.${payload}.`,
    `${b64({ alg: 'none', kid: 'rsa-1' })}.${payload}.`,
    `${b64({ alg: 'none' })}.${payload}.`
  ]
  const statuses = await Promise.all(flood.map(status))
  t.same(new Set(statuses), new Set([401]), `${flood.length} forged tokens, sent at once to a fresh server: all refused`)
  t.equal(jwks.fetches(), 1, 'with one fetch')

  t.equal(await status(real), 200, 'RS256 with its key')
  t.equal(await status(sign(ec, 'ES256')), 200, 'ES256')
  t.equal(await status(sign(ed, 'EdDSA')), 200, 'EdDSA (Ed25519)')
  t.equal(await status(sign(rsaNoAlg, 'PS256')), 200, 'PS256 with a key that names no alg')
  t.equal(await status(sign(rsaNoAlg, 'RS256')), 200, 'RS256 with it too')
  t.equal(await status(sign(rsa, 'PS256')), 401, 'PS256 correctly signed with a key published for RS256 only')
  t.equal(await status(sign(rsa, 'RS256', {}, { kid: 'ec-1' })), 401, 'a kid naming another key')
  t.equal(jwks.fetches(), 1, 'still one fetch')
})

t.test('end to end: the identity provider unreachable is a 401, never a 5xx', async (t) => {
  const jwks = await jwksServer()
  const url = jwks.url
  await jwks.close()
  const server = await listen(testConfig({ auth: { strategy: 'jwt', jwt: { jwksUrl: url, issuer: ISSUER } } }))
  t.teardown(server.close)
  const response = await post(server.url, addCall, { authorization: `Bearer ${sign(rsa, 'RS256')}` })
  t.equal(response.status, 401)
  t.match(await response.json(), { code: 'MCP_AUTH_INVALID_CREDENTIALS' })
  t.ok(server.logs.records().some((record) => record.event === 'jwks' && record.reason === 'unreachable, or not JSON'), 'the failed fetch is logged')
})
