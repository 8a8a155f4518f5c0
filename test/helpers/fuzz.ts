import type { Test } from 'tap'
import fc from 'fast-check'
import { createHmac } from 'node:crypto'
import { Pool } from 'undici'
import { callTool, CLIENT_GENERATIONS, connect, textOf } from './client.js'
import { JWT_AUDIENCE, JWT_ISSUER, JWT_SECRET } from './credentials.js'
import { listen, testConfig } from './server.js'

// Property-based fuzzing of the complete server: generated requests (methods, paths, header sets,
// credential shapes, JSON-RPC bodies of both protocol eras, batches, garbage) against a listening
// server. The properties: no 5xx, no crash, no secret in any log line, and a valid call is still
// answered at the end.

const PRINTABLE = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)), maxLength: 60 })
const VERSIONS = ['2026-07-28', '2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05']
const METHODS = ['tools/call', 'tools/list', 'initialize', 'notifications/initialized', 'server/discover', 'ping', 'subscriptions/listen', 'resources/list', 'prompts/get', 'completion/complete', 'logging/setLevel', 'notifications/cancelled']
const TOOLS = ['add', 'subtract', 'multiply', 'divide', 'modulo', 'power', 'sqrt', 'whoami', 'nope']

const base64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url')

/**
 * HS256 by hand: fast-jwt's signer refuses ill-typed registered claims, and producing exactly
 * those correctly signed is the point.
 */
function hs256 (key: string): (payload: object) => string {
  return (payload) => {
    const input = `${base64url({ alg: 'HS256', typ: 'JWT' })}.${base64url(payload)}`
    return `${input}.${createHmac('sha256', key).update(input).digest('base64url')}`
  }
}

const signers = { hs256: hs256(JWT_SECRET), wrongKey: hs256('a-different-secret-0123456789abcdefghijklmnopqrstu') }

/** Claims of every type in every place: signed with the right key, so only the claim checks stand in the way. */
const claims = fc.record({
  sub: fc.oneof(fc.constant('alice'), fc.constant(''), fc.integer(), fc.constant(null), fc.array(fc.constant('alice'), { maxLength: 2 }), PRINTABLE),
  permissions: fc.oneof(fc.constant(['*']), fc.constant('*'), fc.array(PRINTABLE, { maxLength: 3 }), fc.integer(), fc.constant(null)),
  scope: fc.oneof(fc.constant('calculator:add'), fc.integer(), fc.array(PRINTABLE, { maxLength: 2 })),
  exp: fc.oneof(fc.constant(Math.floor(Date.now() / 1000) + 3600), fc.constant(0), fc.constant('soon'), fc.double(), fc.constant(null)),
  nbf: fc.oneof(fc.integer({ min: 0, max: 2 ** 31 }), fc.constant('now'), fc.constant([1])),
  iat: fc.oneof(fc.integer({ min: 0, max: 2 ** 31 }), fc.constant(-1), fc.constant({})),
  iss: fc.oneof(fc.constant(JWT_ISSUER), PRINTABLE, fc.constant(7)),
  aud: fc.oneof(fc.constant(JWT_AUDIENCE), fc.constant([JWT_AUDIENCE, 'x']), PRINTABLE, fc.constant(3)),
  jti: fc.oneof(PRINTABLE, fc.integer()),
  fam: fc.oneof(PRINTABLE, fc.integer(), fc.constant(null))
}, { requiredKeys: [] })

/** Token shapes: signed tokens with odd claims, unsigned ones, wrong keys, made-up headers, garbage. */
const jwtShapes = fc.oneof(
  claims.map((payload) => signers.hs256(payload)),
  claims.map((payload) => signers.wrongKey(payload)),
  fc.tuple(fc.record({ alg: fc.constantFrom('none', 'HS256', 'RS256', 'ES256', 'XS1', ''), kid: fc.oneof(PRINTABLE, fc.integer()), typ: PRINTABLE }, { requiredKeys: [] }), claims, PRINTABLE)
    .map(([header, payload, signature]) => `${base64url(header)}.${base64url(payload)}.${Buffer.from(signature).toString('base64url')}`),
  fc.array(PRINTABLE.map((part) => Buffer.from(part).toString('base64url')), { minLength: 1, maxLength: 5 }).map((parts) => parts.join('.'))
)

/** Values of a credential header, around the valid one and far from it. */
function credentialShapes (valid: readonly string[]): fc.Arbitrary<string> {
  const near = fc.constantFrom(...valid).chain((value) => fc.oneof(
    fc.constant(value),
    PRINTABLE.map((extra) => value + extra),
    fc.nat({ max: value.length }).map((cut) => value.slice(0, cut)),
    fc.constant(value.toUpperCase()),
    fc.constant(` ${value} `),
    fc.constant(`${value}, ${value}`)
  ))
  return fc.oneof(
    near,
    PRINTABLE,
    fc.constantFrom('', 'Bearer', 'Bearer ', 'Basic', 'Basic =', 'Basic Og==', 'ApiKey x', 'Digest a=b', 'bearer  x', 'Bearer a b c'),
    jwtShapes.map((token) => `Bearer ${token}`),
    fc.tuple(PRINTABLE, PRINTABLE).map(([user, password]) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`),
    fc.string({ maxLength: 40 }).map((text) => `Basic ${Buffer.from(text).toString('base64')}`),
    fc.nat({ max: 9000 }).map((length) => 'A'.repeat(length))
  )
}

const id = fc.oneof(fc.integer(), PRINTABLE, fc.constant(null), fc.constant({}), fc.double())
const json = fc.jsonValue({ maxDepth: 3 })

const params = fc.oneof(
  fc.record({ name: fc.constantFrom(...TOOLS), arguments: fc.oneof(fc.record({ a: fc.oneof(fc.double(), fc.integer(), PRINTABLE), b: fc.oneof(fc.double(), fc.integer(), fc.constant(null)) }, { requiredKeys: [] }), json) }, { requiredKeys: [] }),
  fc.record({ protocolVersion: fc.oneof(fc.constantFrom(...VERSIONS), PRINTABLE), capabilities: json, clientInfo: json }, { requiredKeys: [] }),
  fc.record({ _meta: fc.record({ 'io.modelcontextprotocol/protocolVersion': fc.oneof(fc.constantFrom(...VERSIONS), PRINTABLE), 'io.modelcontextprotocol/clientCapabilities': json, 'io.modelcontextprotocol/clientInfo': json }, { requiredKeys: [] }), name: fc.constantFrom(...TOOLS), arguments: json }, { requiredKeys: [] }),
  json
)

const message = fc.record({
  jsonrpc: fc.oneof(fc.constant('2.0'), fc.constant('1.0'), fc.integer()),
  id,
  method: fc.oneof(fc.constantFrom(...METHODS), PRINTABLE),
  params
}, { requiredKeys: [] })

/** A call a client could well make, with numbers of every kind (NaN and infinities become null in JSON). */
const plausibleCall = fc.record({
  jsonrpc: fc.constant('2.0'),
  id: fc.nat(),
  method: fc.constant('tools/call'),
  params: fc.record({ name: fc.constantFrom(...TOOLS), arguments: fc.record({ a: fc.double(), b: fc.oneof(fc.double(), fc.integer()) }) })
})

const body = fc.oneof(
  { weight: 3, arbitrary: plausibleCall.map((value) => JSON.stringify(value)) },
  { weight: 5, arbitrary: message.map((value) => JSON.stringify(value)) },
  { weight: 2, arbitrary: fc.array(message, { maxLength: 4 }).map((value) => JSON.stringify(value)) },
  { weight: 1, arbitrary: json.map((value) => JSON.stringify(value)) },
  { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
  { weight: 1, arbitrary: fc.constant('') }
)

export interface FuzzRequest {
  method: string
  path: string
  headers: Record<string, string>
  body: string | undefined
}

/** `arbitrary` in `percent` of the cases, otherwise left out (undefined). */
function sometimes<T> (arbitrary: fc.Arbitrary<T>, percent: number): fc.Arbitrary<T | undefined> {
  return fc.oneof({ weight: percent, arbitrary }, { weight: 100 - percent, arbitrary: fc.constant(undefined) })
}

/** Mostly what a client sends (so requests get past the outer checks), sometimes anything. */
function usually<T> (typical: fc.Arbitrary<T>, odd: fc.Arbitrary<T>): fc.Arbitrary<T> {
  return fc.oneof({ weight: 85, arbitrary: typical }, { weight: 15, arbitrary: odd })
}

function requests (credentialHeaders: readonly string[], valid: Record<string, string>): fc.Arbitrary<FuzzRequest> {
  const credential = credentialShapes(Object.values(valid).length > 0 ? Object.values(valid) : ['anonymous'])
  const credentials = fc.oneof(
    { weight: 5, arbitrary: fc.constant(valid) },
    { weight: 4, arbitrary: fc.tuple(...credentialHeaders.map((name) => sometimes(credential.map((value) => [name, value] as const), 60))) },
    { weight: 1, arbitrary: fc.constant({}) }
  ).map((value): Record<string, string> => Array.isArray(value) ? Object.fromEntries(value.filter((entry) => entry !== undefined)) : value)
  const headers = fc.record({
    'content-type': usually(fc.constant('application/json'), fc.oneof(fc.constantFrom('application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', ''), PRINTABLE)),
    accept: usually(fc.constant('application/json, text/event-stream'), fc.oneof(fc.constantFrom('application/json', 'text/event-stream', '*/*', 'text/html'), PRINTABLE)),
    'mcp-protocol-version': sometimes(usually(fc.constantFrom(...VERSIONS), PRINTABLE), 60),
    'mcp-method': sometimes(usually(fc.constantFrom(...METHODS), PRINTABLE), 40),
    'mcp-name': sometimes(usually(fc.constantFrom(...TOOLS), PRINTABLE), 30),
    'mcp-session-id': sometimes(PRINTABLE, 10),
    'last-event-id': sometimes(PRINTABLE, 5),
    'mcp-param-a': sometimes(PRINTABLE, 5),
    origin: sometimes(fc.oneof(fc.constantFrom('http://localhost:1234', 'https://evil.example', 'null'), PRINTABLE), 10),
    'x-forwarded-for': sometimes(PRINTABLE, 5)
  }).map((all): Record<string, string> => Object.fromEntries(Object.entries(all).filter((entry): entry is [string, string] => entry[1] !== undefined)))
  return fc.record({
    method: fc.oneof({ weight: 8, arbitrary: fc.constant('POST') }, { weight: 1, arbitrary: fc.constantFrom('GET', 'DELETE', 'PUT', 'OPTIONS', 'PATCH', 'HEAD') }),
    path: fc.oneof({ weight: 8, arbitrary: fc.constant('/mcp') }, { weight: 1, arbitrary: fc.constantFrom('/mcp/', '/mcp?token=x', '/MCP', '/oauth/token', '/.well-known/oauth-protected-resource/mcp', '/healthz', '/%2e%2e/mcp', '/mcp#x') }),
    headers: fc.tuple(headers, credentials).map(([other, credential]) => ({ ...other, ...credential })),
    body
  }).map((request) => ({ ...request, body: request.method === 'GET' || request.method === 'HEAD' ? undefined : request.body }))
}

export interface FuzzTarget {
  /** The `auth` section of the config. */
  auth: Record<string, unknown>
  /** Headers that authenticate with every permission. */
  valid: Record<string, string>
  /** Headers a credential may travel in. */
  credentialHeaders: readonly string[]
  /** Every secret of the deployment, none of which may be logged. */
  secrets: readonly string[]
  /** Stateless (default) or stateful sessions. */
  sessions?: 'stateless' | 'stateful'
  runs?: number
}

/**
 * Fuzzes one deployment: `runs` generated requests (10,000 by default), one at a time over a
 * keep-alive pool, each of which must get an answer below 500.
 */
export async function fuzzDeployment (t: Test, target: FuzzTarget): Promise<void> {
  const runs = target.runs ?? 10_000
  const server = await listen(testConfig({
    auth: target.auth,
    rateLimit: { failedAuth: { max: 1_000_000, timeWindow: '1m' } },
    // Session limits out of reach: a documented 503 for them is not what this test looks for.
    mcp: { sessions: target.sessions ?? 'stateless', maxSessions: 1_000_000, maxSessionsPerPrincipal: 1_000_000 }
  }))
  t.teardown(server.close)
  const pool = new Pool(server.url.origin, { connections: 4, pipelining: 1 })
  t.teardown(async () => { await pool.close() })
  const statuses = new Map<number, number>()
  const generated = requests(target.credentialHeaders, target.valid)
  const outcome = await fc.check(fc.asyncProperty(generated, async (request) => {
    const answer = await pool.request({ method: request.method as 'POST', path: request.path, headers: request.headers, body: request.body })
    await answer.body.dump()
    statuses.set(answer.statusCode, (statuses.get(answer.statusCode) ?? 0) + 1)
    return answer.statusCode < 500
  }), { numRuns: runs, seed: Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31) })
  t.equal(outcome.failed, false, outcome.failed ? fc.defaultReportMessage(outcome) ?? 'failed' : `${runs} requests, none answered 5xx`)
  t.equal([...statuses.values()].reduce((sum, count) => sum + count, 0), runs, 'every generated request got an answer')
  t.ok([...statuses.keys()].filter((status) => status >= 400).length >= 5, `a spread of refusals: ${JSON.stringify(Object.fromEntries(statuses))}`)

  for (const generation of CLIENT_GENERATIONS) {
    const { client, close } = await connect(server.url, target.valid, generation)
    t.equal(textOf(await callTool(client, 'add', { a: 5, b: 3 })), '8', `${generation} client: a valid call is still answered`)
    await close()
  }

  const logs = server.logs.text
  t.ok(logs.length > 0)
  for (const secret of target.secrets) t.notOk(logs.includes(secret), `no log line holds ${secret.slice(0, 6)}… (${secret.length} characters)`)
  t.same(server.logs.records().filter((record) => Number(record.level) >= 50), [], 'no error was logged')
}
