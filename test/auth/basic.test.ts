import t, { type Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import { McpServer } from '@modelcontextprotocol/server'
import { DUAL_ERA_PROTOCOL_VERSIONS } from '../../mcp/protocol-versions.js'
import * as passwordHashModule from '../../plugins/credentials/password-hash.js'
import { hashPassword, parsePasswordHash, verifyPassword } from '../../plugins/credentials/password-hash.js'
import { KdfLimiter } from '../../plugins/credentials/kdf-limiter.js'
import { CredentialCache } from '../../plugins/credentials/credential-cache.js'
import { SingleFlight } from '../../plugins/credentials/single-flight.js'
import { addCall, callTool, connect, post, textOf } from '../helpers/client.js'
import { BASIC_PASSWORD, BASIC_USER, FAST_SCRYPT, basicHeader } from '../helpers/credentials.js'
import { listen, testConfig } from '../helpers/server.js'
import { runCli } from '../helpers/spawn-cli.js'

const hash = await hashPassword(BASIC_PASSWORD, FAST_SCRYPT)
const bobHash = await hashPassword('bob-password', FAST_SCRYPT)
const users = [
  { username: BASIC_USER, passwordHash: hash, permissions: ['calculator:*'] },
  { username: 'bob', passwordHash: bobHash, permissions: ['calculator:add'] }
]

t.test('UTF-8 user names and passwords (RFC 7617) reach the calculator; the principal is the user', async (t) => {
  const createServer = () => {
    const server = new McpServer({ name: 'echo', version: '0' }, { supportedProtocolVersions: [...DUAL_ERA_PROTOCOL_VERSIONS] })
    server.registerTool('who', { description: 'principal id' }, async (ctx) => ({ content: [{ type: 'text', text: ctx.http?.authInfo?.clientId ?? '' }] }))
    return server
  }
  const server = await listen(testConfig({ auth: { strategy: 'basic', basic: { realm: 'calculator', users } } }), { mcp: { createServer } })
  t.teardown(server.close)
  for (const generation of ['legacy', 'modern'] as const) {
    const { client, close } = await connect(server.url, { authorization: basicHeader(BASIC_USER, BASIC_PASSWORD) }, generation)
    t.teardown(close)
    t.equal(textOf(await callTool(client, 'who', {})), BASIC_USER, `${generation} client`)
  }
})

t.test('hostile and malformed headers: 401 with the Basic challenge, never 500', async (t) => {
  const server = await listen(testConfig({ auth: { strategy: 'basic', basic: { realm: 'calculator', users } } }))
  t.teardown(server.close)
  const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64')
  const cases: Array<[string, string | undefined, string]> = [
    ['no header', undefined, 'missing credentials'],
    ['a Bearer header', 'Bearer abc', 'missing credentials'],
    ['wrong password', basicHeader(BASIC_USER, 'wrong'), 'invalid credentials'],
    ['password of another user', basicHeader(BASIC_USER, 'bob-password'), 'invalid credentials'],
    ['unknown user', basicHeader('mallory', BASIC_PASSWORD), 'invalid credentials'],
    ['empty user', basicHeader('', BASIC_PASSWORD), 'invalid credentials'],
    ['empty password', basicHeader(BASIC_USER, ''), 'invalid credentials'],
    ['malformed base64', 'Basic !!!not-base64!!!', 'invalid credentials'],
    ['no colon', `Basic ${b64(BASIC_USER + BASIC_PASSWORD)}`, 'invalid credentials'],
    ['a control character', `Basic ${b64(`${BASIC_USER}:${BASIC_PASSWORD}\u0000`)}`, 'invalid credentials'],
    ['the user name in Latin-1', `Basic ${Buffer.from(`${BASIC_USER}:${BASIC_PASSWORD}`, 'latin1').toString('base64')}`, 'invalid credentials'],
    ['two credentials', `${basicHeader(BASIC_USER, BASIC_PASSWORD)} ${b64('x:y')}`, 'invalid credentials'],
    ['scheme only', 'Basic', 'missing credentials']
  ]
  for (const [name, authorization, message] of cases) {
    const response = await post(server.url, addCall, authorization === undefined ? {} : { authorization })
    t.equal(response.status, 401, name)
    t.equal(response.headers.get('www-authenticate'), 'Basic realm="calculator", charset="UTF-8"', `${name}: challenge`)
    t.match(await response.json(), { statusCode: 401, message }, `${name}: body`)
  }
  const lowercase = await post(server.url, addCall, { authorization: basicHeader(BASIC_USER, BASIC_PASSWORD).replace('Basic', 'basic') })
  t.equal(lowercase.status, 200, 'the scheme is case-insensitive')
})

/** A Basic-protected route on a bare Fastify app, with password checks counted. */
async function countingApp (t: Test, options: Record<string, unknown> = {}, gate?: { entered: () => void, open: Promise<void> }): Promise<{ app: FastifyInstance, kdfRuns: () => number }> {
  let runs = 0
  const counting = {
    ...passwordHashModule,
    verifyPassword: async (...args: Parameters<typeof verifyPassword>) => {
      runs++
      if (gate !== undefined) {
        gate.entered()
        await gate.open
      }
      return await verifyPassword(...args)
    }
  }
  const hashedSecrets = await t.mockImport<typeof import('../../plugins/credentials/hashed-secrets.js')>('../../plugins/credentials/hashed-secrets.js', {
    '../../plugins/credentials/password-hash.js': counting
  })
  const { basicAuth } = await t.mockImport<typeof import('../../plugins/auth/basic.js')>('../../plugins/auth/basic.js', {
    '../../plugins/credentials/hashed-secrets.js': hashedSecrets
  })
  const app = Fastify()
  await app.register(async (scope) => {
    await scope.register(basicAuth, { users, ...options })
    scope.get('/', async (request) => request.principal)
  })
  t.teardown(() => app.close())
  return { app, kdfRuns: () => runs }
}

t.test('a valid client pays the KDF once; wrong passwords and unknown users pay it every time', async (t) => {
  const { app, kdfRuns } = await countingApp(t)
  const good = { authorization: basicHeader(BASIC_USER, BASIC_PASSWORD) }
  for (let i = 0; i < 5; i++) t.equal((await app.inject({ url: '/', headers: good })).statusCode, 200)
  t.equal(kdfRuns(), 1, 'five requests, one KDF run')
  t.match((await app.inject({ url: '/', headers: good })).json(), { id: BASIC_USER, strategy: 'basic', permissions: ['calculator:*'] })

  const before = kdfRuns()
  for (let i = 0; i < 3; i++) t.equal((await app.inject({ url: '/', headers: { authorization: basicHeader(BASIC_USER, 'nope') } })).statusCode, 401)
  t.equal(kdfRuns() - before, 3, 'a wrong password is never cached')
  t.equal((await app.inject({ url: '/', headers: { authorization: basicHeader('nobody', 'nope') } })).statusCode, 401)
  t.equal(kdfRuns() - before, 4, 'an unknown user costs a KDF run like a wrong password')
})

t.test('cacheTtl: 0 turns the cache off', async (t) => {
  const { app, kdfRuns } = await countingApp(t, { cacheTtl: 0 })
  const good = { authorization: basicHeader(BASIC_USER, BASIC_PASSWORD) }
  for (let i = 0; i < 3; i++) await app.inject({ url: '/', headers: good })
  t.equal(kdfRuns(), 3)
})

t.test('KDF work is bounded: past the queue a check is refused with 503 and Retry-After', async (t) => {
  const limiter = new KdfLimiter(1, 1)
  const releases: Array<() => void> = []
  const hold = () => new Promise<void>((resolve) => releases.push(resolve))
  const first = limiter.run(hold)
  const second = limiter.run(hold)
  await t.rejects(limiter.run(hold), { code: 'MCP_AUTH_BUSY', statusCode: 503 })
  t.equal(releases.length, 1, 'only one runs at a time')
  releases[0]?.()
  await first
  t.equal(releases.length, 2, 'the queued one starts when the first ends')
  releases[1]?.()
  await second
  await t.resolves(limiter.run(async () => 'free again'))

  let entered!: () => void
  let open!: () => void
  const firstEntered = new Promise<void>((resolve) => { entered = resolve })
  const gate = { entered, open: new Promise<void>((resolve) => { open = resolve }) }
  const { app } = await countingApp(t, { kdfConcurrency: 1, kdfQueue: 0 }, gate)
  const wrong = { authorization: basicHeader(BASIC_USER, 'wrong') }
  const running = app.inject({ url: '/', headers: wrong })
  await firstEntered
  // Another password: the same one would share the running check rather than need a slot.
  const refused = await app.inject({ url: '/', headers: { authorization: basicHeader(BASIC_USER, 'another wrong one') } })
  t.equal(refused.statusCode, 503, 'a check beyond the bound is refused while the first runs')
  t.equal(refused.headers['retry-after'], '1')
  t.match(refused.json(), { statusCode: 503, code: 'MCP_AUTH_BUSY', message: /retry shortly/ })
  open()
  t.equal((await running).statusCode, 401, 'the running check completes normally')
})

t.test('concurrent checks of the same credentials share one KDF run', async (t) => {
  const flights = new SingleFlight<boolean>()
  let runs = 0
  let release!: (value: boolean) => void
  const work = () => { runs++; return new Promise<boolean>((resolve) => { release = resolve }) }
  const first = flights.run('k', work)
  const second = flights.run('k', work)
  const other = flights.run('other', async () => false)
  t.equal(first, second, 'the same promise')
  t.equal(runs, 1)
  release(true)
  t.same(await Promise.all([first, second, other]), [true, true, false])
  t.equal(flights.size, 0, 'nothing kept once settled')
  await flights.run('k', async () => { runs++; return true })
  t.equal(runs, 2, 'a later check runs again')
})

t.test('the credential cache: keyed by user, password and stored hash; entries expire; bounded', async (t) => {
  let now = 0
  const cache = new CredentialCache<string>(1000, 2, () => now)
  const password = 'a password of some length'
  const key = cache.keyFor('alice', password, 'hash-1')
  t.not(key, cache.keyFor('alice', password, 'hash-2'), 'a changed stored hash misses')
  t.not(cache.keyFor('ab', 'c', 'h'), cache.keyFor('a', 'bc', 'h'), 'parts cannot run into each other')
  // A two-letter password can occur in a random key by chance (about 1 run in 100 did): this one cannot.
  t.notOk(key.includes(password), 'the key does not hold the password')
  cache.set(key, 'alice')
  t.equal(cache.get(key), 'alice')
  now = 1001
  t.equal(cache.get(key), undefined, 'expired')
  for (const name of ['a', 'b', 'c']) cache.set(cache.keyFor(name, 'p', 'h'), name)
  t.equal(cache.size, 2, 'bounded')
  t.equal(cache.get(cache.keyFor('a', 'p', 'h')), undefined, 'least recently used out first')
})

t.test('plain passwords and foreign hashes are refused at start-up', async (t) => {
  const { default: Fastify } = await import('fastify')
  const { basicAuth } = await import('../../plugins/auth/basic.js')
  for (const [options, message] of [
    [{ users: [{ username: 'a', password: 'hunter2', passwordHash: hash, permissions: [] }] }, /users\[0\]\.password: plain passwords are refused/],
    [{ users: [{ username: 'a', passwordHash: 'hunter2', permissions: [] }] }, /users\[0\]\.passwordHash: expected the output of `fastify-mcp-auth hash-password`/],
    [{ users: [{ username: 'a', passwordHash: '$2b$10$abcdefghijklmnopqrstuv', permissions: [] }] }, /passwordHash: expected the output/],
    [{ users: [{ username: 'a:b', passwordHash: hash, permissions: [] }] }, /users\[0\]\.username: a user name cannot contain ":"/],
    [{ users: [] }, /users: at least one user is required/]
  ] as const) {
    const app = Fastify()
    await t.rejects(async () => { await app.register(basicAuth, options as never).ready() }, { code: 'MCP_AUTH_INVALID_OPTION', message })
    await app.close()
  }
})

t.test('hash-password reads stdin and prints a hash that verifies', async (t) => {
  const run = await runCli(['hash-password'], {}, `${BASIC_PASSWORD}\n`)
  t.equal(run.code, 0, run.stderr)
  const printed = run.stdout.trim()
  t.match(printed, /^\$scrypt\$N=16384,r=8,p=1\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/)
  const parsed = parsePasswordHash(printed)
  if (parsed === undefined) throw new Error('unparseable hash')
  t.equal(await verifyPassword(BASIC_PASSWORD, parsed), true, 'the trailing newline is not part of the password')
  t.equal(await verifyPassword(BASIC_PASSWORD + '\n', parsed), false)
  t.notOk(printed.includes(BASIC_PASSWORD))

  const empty = await runCli(['hash-password'], {}, '')
  t.equal(empty.code, 2)
  t.match(empty.stderr, /no password on stdin/)
})
