import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { addCall, post, postModern } from '../helpers/client.js'
import { createSigner } from 'fast-jwt'
import { JWT_AUDIENCE, JWT_ISSUER, JWT_SECRET, jwtFor, jwtSection } from '../helpers/credentials.js'
import { listen, testConfig } from '../helpers/server.js'

const KEY = 'audit-test-key-0123456789abcdefghijk'
const auth = { strategy: 'api-key', apiKey: { keys: [{ id: 'auditor', key: KEY, permissions: ['calculator:add', 'calculator:divide'] }] } }
const call = (name: string, args: Record<string, unknown>) => ({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: args } })
const UA = 'audit-test-agent/1.0'

t.test('one event per auth attempt and per tool call, with exactly these fields', async (t) => {
  const server = await listen(testConfig({ auth, rateLimit: { failedAuth: { max: 2, timeWindow: '1m' } } }))
  t.teardown(server.close)
  await post(server.url, call('add', { a: 1, b: 2 }), { 'x-api-key': KEY, 'user-agent': UA })
  await post(server.url, call('divide', { a: 1, b: 0 }), { 'x-api-key': KEY, 'user-agent': UA })
  await post(server.url, call('sqrt', { x: 4 }), { 'x-api-key': KEY, 'user-agent': UA })
  await post(server.url, addCall, { 'user-agent': UA })
  await post(server.url, addCall, { 'x-api-key': 'wrong-key-0123456789abcdefghijklm', 'user-agent': UA })
  await post(server.url, addCall, { 'x-api-key': 'wrong-key-0123456789abcdefghijklm', 'user-agent': UA })
  const throttled = await post(server.url, addCall, { 'x-api-key': 'wrong-key-0123456789abcdefghijklm', 'user-agent': UA })
  t.equal(throttled.status, 429, 'the third wrong key is over the limit of 2')

  const events = server.logs.records().filter((r) => r.event === 'auth' || r.event === 'tool')
  const common = { ip: '127.0.0.1', reqId: String, userAgent: UA, level: 30 }
  const only = (event: Record<string, unknown>) => Object.fromEntries(Object.entries(event).filter(([k]) => !['time', 'pid', 'hostname', 'msg'].includes(k)))
  t.match(events.map(only), [
    { event: 'auth', strategy: 'api-key', outcome: 'success', principal: 'auditor', ...common },
    { event: 'tool', tool: 'add', principal: 'auditor', strategy: 'api-key', outcome: 'success', durationMs: Number, ...common },
    { event: 'auth', strategy: 'api-key', outcome: 'success', principal: 'auditor', ...common },
    { event: 'tool', tool: 'divide', principal: 'auditor', outcome: 'error', ...common },
    { event: 'auth', strategy: 'api-key', outcome: 'success', principal: 'auditor', ...common },
    { event: 'auth', strategy: 'api-key', outcome: 'failure', reason: 'insufficient_permission', principal: 'auditor', permission: 'calculator:sqrt', ...common },
    { event: 'tool', tool: 'sqrt', principal: 'auditor', outcome: 'denied', durationMs: 0, ...common },
    { event: 'auth', strategy: 'api-key', outcome: 'failure', reason: 'missing_credentials', ...common },
    { event: 'auth', strategy: 'api-key', outcome: 'failure', reason: 'invalid_credentials', ...common },
    { event: 'auth', strategy: 'api-key', outcome: 'failure', reason: 'invalid_credentials', ...common },
    { event: 'auth', strategy: 'api-key', outcome: 'failure', reason: 'invalid_credentials', ...common }
  ])
  t.equal(events.length, 11, 'and nothing else (a request without credentials is not a guess: it spent none of the budget)')
  t.match(server.logs.records().filter((r) => r.event === 'rate_limit'), [{ limit: 'failed_auth', ip: '127.0.0.1' }], 'the refusal is logged as a rate limit')
  t.notOk('arguments' in (events[1] ?? {}), 'no arguments unless asked for')
  t.notOk('principal' in (events[7] ?? {}), 'no principal when none is known')
})

t.test('2026-07-28 calls are audited alike, marked with their era', async (t) => {
  const server = await listen(testConfig({ auth }))
  t.teardown(server.close)
  await postModern(server.url, 'tools/call', { name: 'add', arguments: { a: 1, b: 2 } }, { 'x-api-key': KEY, 'user-agent': UA })
  await postModern(server.url, 'tools/call', { name: 'sqrt', arguments: { x: 4 } }, { 'x-api-key': KEY, 'user-agent': UA })
  await post(server.url, call('add', { a: 1, b: 2 }), { 'x-api-key': KEY, 'user-agent': UA })
  const tools = server.logs.records().filter((r) => r.event === 'tool')
  t.match(tools, [
    { tool: 'add', principal: 'auditor', strategy: 'api-key', era: 'modern', outcome: 'success', durationMs: Number, userAgent: UA },
    { tool: 'sqrt', principal: 'auditor', outcome: 'denied', durationMs: 0 },
    { tool: 'add', principal: 'auditor', era: 'legacy', outcome: 'success' }
  ])
  t.equal(tools.length, 3)
})

t.test('expired and revoked reasons; arguments when audit.includeArguments is set', async (t) => {
  const server = await listen(testConfig({ auth: { strategy: 'jwt', jwt: jwtSection }, audit: { includeArguments: true } }))
  t.teardown(server.close)
  const now = Math.floor(Date.now() / 1000)
  const expired = createSigner({ key: JWT_SECRET, algorithm: 'HS256' })({ sub: 'exp', iss: JWT_ISSUER, aud: JWT_AUDIENCE, iat: now - 600, exp: now - 120 })
  await post(server.url, addCall, { authorization: `Bearer ${expired}` })
  await post(server.url, call('add', { a: 40, b: 2 }), { authorization: `Bearer ${jwtFor('argued', ['*'])}` })
  const events = server.logs.records()
  t.match(events.find((r) => r.event === 'auth' && r.outcome === 'failure'), { strategy: 'jwt', reason: 'token_expired' })
  t.match(events.find((r) => r.event === 'tool'), { tool: 'add', principal: 'argued', arguments: { a: 40, b: 2 } })
})

t.test('audit.file: JSON lines in a file of their own, whatever the log level', async (t) => {
  const dir = t.testdir({})
  const file = join(dir, 'audit', 'audit.log')
  const server = await listen(testConfig({ auth, audit: { file } }))
  await post(server.url, call('add', { a: 1, b: 1 }), { 'x-api-key': KEY })
  await post(server.url, addCall)
  await server.close()
  const lines = readFileSync(file, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>)
  t.match(lines, [
    { event: 'auth', outcome: 'success', principal: 'auditor' },
    { event: 'tool', tool: 'add', outcome: 'success' },
    { event: 'auth', outcome: 'failure', reason: 'missing_credentials' }
  ])
  t.equal(lines.length, 3)
  t.notOk(server.logs.lines.some((line) => line.includes('"event":"tool"')), 'not in the main log')
})
