import t, { type Test } from 'tap'
import { request as httpRequest } from 'node:http'
import { addCall, post } from '../helpers/client.js'
import { basicHeader, FAST_SCRYPT } from '../helpers/credentials.js'
import { listen, testConfig, type TestServer } from '../helpers/server.js'
import { hashPassword } from '../../plugins/credentials/password-hash.js'

// The failed-authentication throttle counts guessing and costly work, never valid cheap
// credentials and never requests without any: a client behind the same address as an attacker
// keeps working, and no more password checks run than the limit allows.
const ALICE = 'alice-key-0123456789abcdefghijklmnop'
const WRONG = 'wrong-key-0123456789abcdefghijklmnop'
const apiKey = { strategy: 'api-key', apiKey: { keys: [{ id: 'alice', key: ALICE, permissions: ['*'] }] } }
const PASSWORD = 'a long enough password'

async function basicServer (t: Test, extra: Record<string, unknown> = {}): Promise<TestServer> {
  const hash = await hashPassword(PASSWORD, FAST_SCRYPT)
  const server = await listen(testConfig({
    auth: { strategy: 'basic', basic: { users: [{ username: 'alice', passwordHash: hash, permissions: ['*'] }, { username: 'bob', passwordHash: hash, permissions: ['*'] }], kdfQueue: 100 } },
    rateLimit: { failedAuth: { max: 10, timeWindow: '1m' } },
    ...extra
  }))
  t.teardown(server.close)
  return server
}

t.test('wrong keys are counted after their check; past the limit they get 429; the valid key never does', async (t) => {
  const server = await listen(testConfig({ auth: apiKey, rateLimit: { failedAuth: { max: 3, timeWindow: '1m' } } }))
  t.teardown(server.close)
  for (let i = 0; i < 3; i++) t.equal((await post(server.url, addCall, { 'x-api-key': WRONG })).status, 401, `wrong key ${i + 1}`)
  const blocked = await post(server.url, addCall, { 'x-api-key': WRONG })
  t.equal(blocked.status, 429, 'the fourth wrong key')
  t.match(blocked.headers.get('retry-after'), /^\d+$/)
  t.equal(blocked.headers.get('www-authenticate'), null)
  t.match(await blocked.json(), { statusCode: 429, code: 'MCP_AUTH_RATE_LIMITED', message: /too many failed authentications/ })
  t.equal((await post(server.url, addCall, { 'x-api-key': ALICE })).status, 200, 'a valid key from the same address is not refused')
  t.equal((await post(server.url, addCall, { 'x-api-key': WRONG, 'x-forwarded-for': '203.0.113.9' })).status, 429, 'X-Forwarded-For is not believed without server.trustProxy')
  t.match(server.logs.records().filter((r) => r.event === 'rate_limit'), [{ limit: 'failed_auth' }, { limit: 'failed_auth' }])
})

t.test('requests without credentials are not failed logins', async (t) => {
  const server = await listen(testConfig({ auth: apiKey, rateLimit: { failedAuth: { max: 2, timeWindow: '1m' } } }))
  t.teardown(server.close)
  for (let i = 0; i < 20; i++) t.equal((await post(server.url, addCall)).status, 401)
  t.equal((await post(server.url, addCall, { 'x-api-key': WRONG })).status, 401, 'the first real guess is still a 401')
})

t.test('behind a trusted proxy each client address has its own count', async (t) => {
  const server = await listen(testConfig({ server: { trustProxy: true }, auth: apiKey, rateLimit: { failedAuth: { max: 2, timeWindow: '1m' } } }))
  t.teardown(server.close)
  const from = async (ip: string, key: string) => (await post(server.url, addCall, { 'x-api-key': key, 'x-forwarded-for': ip })).status
  t.same([await from('203.0.113.1', WRONG), await from('203.0.113.1', WRONG), await from('203.0.113.1', WRONG)], [401, 401, 429])
  t.equal(await from('203.0.113.2', WRONG), 401, 'another client behind the proxy is not affected')
})

t.test('30 concurrent wrong passwords from one address: no more password checks than the limit', async (t) => {
  const server = await basicServer(t)
  const statuses = await Promise.all(Array.from({ length: 30 }, async (_, i) =>
    (await post(server.url, addCall, { authorization: basicHeader('alice', `wrong ${i}`) })).status))
  t.equal(statuses.filter((status) => status === 401).length, 10, 'ten checked (and refused)')
  t.equal(statuses.filter((status) => status === 429).length, 20, 'twenty refused before any check')
  t.equal(server.logs.records().filter((r) => r.event === 'auth' && r.outcome === 'throttled').length, 20, 'each audited as throttled')
})

t.test('concurrent first requests with a valid password share one check and are never throttled', async (t) => {
  const server = await basicServer(t, { rateLimit: { failedAuth: { max: 2, timeWindow: '1m' } } })
  const statuses = await Promise.all(Array.from({ length: 20 }, async () =>
    (await post(server.url, addCall, { authorization: basicHeader('alice', PASSWORD) })).status))
  t.same(new Set(statuses), new Set([200]), 'twenty at once, limit two: all served')
})

t.test('a remembered password keeps working from a throttled address; a new password check waits', async (t) => {
  const server = await basicServer(t)
  t.equal((await post(server.url, addCall, { authorization: basicHeader('alice', PASSWORD) })).status, 200, 'alice logs in (the check counts; the result is remembered)')
  for (let i = 0; i < 9; i++) await post(server.url, addCall, { authorization: basicHeader('mallory', `guess ${i}`) })
  t.equal((await post(server.url, addCall, { authorization: basicHeader('mallory', 'one more') })).status, 429, 'the address is over its limit')
  t.equal((await post(server.url, addCall, { authorization: basicHeader('alice', PASSWORD) })).status, 200, 'alice, remembered: no check needed, not refused')
  t.equal((await post(server.url, addCall, { authorization: basicHeader('bob', PASSWORD) })).status, 429, 'bob, not remembered: his check would be costly work, so he waits')
})

t.test('password guesses are counted per account too, whatever address they come from', async (t) => {
  const server = await basicServer(t, { server: { trustProxy: true } })
  const guess = async (user: string, ip: string, password: string) =>
    (await post(server.url, addCall, { authorization: basicHeader(user, password), 'x-forwarded-for': ip })).status
  for (let i = 0; i < 10; i++) t.equal(await guess('alice', `198.51.100.${i}`, `guess ${i}`), 401, `guess ${i + 1} from its own address`)
  t.equal(await guess('alice', '198.51.100.99', PASSWORD), 429, 'alice\'s account is over its limit: even a fresh address waits for a check')
  t.equal(await guess('bob', '198.51.100.99', PASSWORD), 200, 'bob is not affected')
})

t.test('a foreign web page or a rebinding request is refused before any credential check, and never counts', async (t) => {
  const server = await listen(testConfig({ auth: apiKey, rateLimit: { failedAuth: { max: 3, timeWindow: '1m' } } }))
  t.teardown(server.close)
  for (let i = 0; i < 10; i++) {
    t.equal((await post(server.url, addCall, { 'x-api-key': WRONG, origin: 'http://evil.example' })).status, 403, `cross-origin guess ${i + 1}`)
  }
  const rebinding = await new Promise<number | undefined>((resolve, reject) => {
    const req = httpRequest(server.url, { method: 'POST', headers: { host: `evil.example:${server.url.port}`, 'content-type': 'application/json', 'x-api-key': WRONG } }, (res) => { res.resume(); resolve(res.statusCode) })
    req.on('error', reject)
    req.end(JSON.stringify(addCall))
  })
  t.equal(rebinding, 403, 'a foreign Host')
  t.equal((await post(server.url, addCall, { 'x-api-key': WRONG })).status, 401, 'the first guess that reached authentication is still a 401')
  t.equal((await post(server.url, addCall, { 'x-api-key': ALICE })).status, 200, 'and the local client works')
  t.equal(server.logs.records().filter((r) => r.event === 'auth' && r.outcome !== 'success').length, 1, 'the refused pages were never authentication attempts')
})
