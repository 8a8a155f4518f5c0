import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { execFileSync } from 'node:child_process'
import { parseArgs } from 'node:util'
import { parse, stringify } from 'yaml'
import { readFileSync } from 'node:fs'
import { loadConfigFile } from '../deployment.js'
import { createTokenSigner } from '../plugins/auth/jwt-signer.js'
import { hashPassword } from '../plugins/credentials/password-hash.js'
import { runLoad, type LoadResult, type LoadSpec, type LoadTool } from './load.js'
import { distPath, startNode, type BenchProcess } from './processes.js'

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '32' },
    tool: { type: 'string' },
    'long-requests': { type: 'string', default: '200000' },
    only: { type: 'string' }
  }
})
const duration = Number(values.duration)
const rounds = Number(values.rounds)
const connections = Number(values.connections)
const hasWrk = (() => { try { execFileSync('wrk', ['--version'], { stdio: 'ignore' }); return true } catch (error) { return (error as { status?: number }).status === 1 } })()
const tool: LoadTool = values.tool === 'wrk' || values.tool === 'autocannon' ? values.tool : hasWrk ? 'wrk' : 'autocannon'

const API_KEY = 'bench-api-key-0123456789abcdefghijklmnop'
const BEARER = 'bench-bearer-0123456789abcdefghijklmnopq'
const JWT_SECRET = 'bench-jwt-secret-0123456789abcdefghijklmnopqrstuv'
const PASSWORD = 'bench password, long enough'
const CALL = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'add', arguments: { a: 5, b: 3 } } })
/** The same call in the 2026-07-28 era: the `_meta` envelope in the body, its mirror in the headers. */
const MODERN_CALL = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'tools/call',
  params: {
    name: 'add',
    arguments: { a: 5, b: 3 },
    _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {}, 'io.modelcontextprotocol/clientInfo': { name: 'bench', version: '0' } }
  }
})
const MODERN_HEADERS = { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'add' }

const workDir = mkdtempSync(join(tmpdir(), 'fastify-mcp-auth-bench-'))
const env: NodeJS.ProcessEnv = {
  CALCULATOR_API_KEY: API_KEY,
  MCP_BEARER_TOKEN: BEARER,
  JWT_SECRET,
  CALCULATOR_BASIC_PASSWORD_HASH: await hashPassword(PASSWORD)
}

/** The strategy's example config, with the session mode set and request logging off (as in the limit). */
function exampleConfig (strategy: string, sessions: string, extra: Record<string, Record<string, unknown>> = {}): string {
  const doc = parse(readFileSync(distPath(`../config/${strategy}.yaml`), 'utf8')) as Record<string, Record<string, unknown>>
  doc.mcp = { ...doc.mcp, sessions }
  doc.logger = { level: 'warn' }
  Object.assign(doc, extra)
  const file = join(workDir, `${strategy}-${sessions}${Object.keys(extra).length > 0 ? '-extra' : ''}.yaml`)
  writeFileSync(file, stringify(doc))
  return file
}

function credentials (strategy: string, file: string): Record<string, string> {
  switch (strategy) {
    case 'api-key': return { 'x-api-key': API_KEY }
    case 'bearer': return { authorization: `Bearer ${BEARER}` }
    case 'basic': return { authorization: 'Basic ' + Buffer.from(`alice:${PASSWORD}`).toString('base64') }
    default: {
      const jwt = loadConfigFile(file, { env }).auth.jwt
      if (jwt === undefined) throw new Error('no jwt section')
      return { authorization: `Bearer ${createTokenSigner(jwt)({ sub: 'bench', permissions: ['calculator:*'], ttl: 3_600_000 }).token}` }
    }
  }
}

async function openSession (url: string, headers: Record<string, string>): Promise<Record<string, string>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'bench', version: '0' } } })
  })
  const id = response.headers.get('mcp-session-id')
  if (!response.ok || id === null) throw new Error(`initialize failed with ${response.status}`)
  return { ...headers, 'mcp-session-id': id }
}

interface Scenario {
  name: string
  server: BenchProcess
  headers: Record<string, string>
  body: string
  rssStart: number
  results: LoadResult[]
}

/** `sessions` is stateless or stateful (2025 revisions), or modern (2026-07-28, always stateless). */
async function mcpScenario (strategy: string, sessions: string, extra: Record<string, Record<string, unknown>> = {}): Promise<Scenario> {
  const modern = sessions === 'modern'
  const file = exampleConfig(strategy, modern ? 'stateless' : sessions, extra)
  const server = await startNode(distPath('bin/fastify-mcp-auth.js'), ['serve', '--config', file], env)
  let headers = credentials(strategy, file)
  if (sessions === 'stateful') headers = await openSession(server.url, headers)
  if (modern) headers = { ...headers, ...MODERN_HEADERS }
  const name = modern ? `${strategy} 2026-07-28` : `${strategy} ${sessions}`
  return { name, server, headers, body: modern ? MODERN_CALL : CALL, rssStart: server.rss(), results: [] }
}

const spec = (scenario: Scenario, seconds: number, extra: Partial<LoadSpec> = {}): LoadSpec =>
  ({ url: scenario.server.url, body: scenario.body, headers: scenario.headers, connections, duration: seconds, ...extra })

const median = (numbers: number[]): number => {
  const sorted = [...numbers].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? NaN
}
const round1 = (n: number): string => n.toFixed(n < 10 ? 2 : 1)

console.log(`fastify-mcp-auth benchmark: ${tool}, ${connections} connections, ${rounds} rounds × ${duration}s, median reported`)
console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`)
if (!hasWrk) console.log('wrk not found: using autocannon, which shares the CPU with the server (install wrk for steadier figures)')

const limit = await startNode(distPath('bench/limit-server.js'), [], { LIMIT_API_KEY: API_KEY })
const scenarios: Scenario[] = [{ name: 'limit: bare Fastify route', server: limit, headers: { 'x-api-key': API_KEY }, body: CALL, rssStart: limit.rss(), results: [] }]
for (const strategy of ['api-key', 'bearer', 'basic', 'jwt']) {
  for (const sessions of ['stateless', 'stateful', 'modern']) {
    if (values.only === undefined || `${strategy} ${sessions === 'modern' ? '2026-07-28' : sessions}`.includes(values.only)) scenarios.push(await mcpScenario(strategy, sessions))
  }
}
if (values.only === undefined) {
  // What the audit log (two JSON lines per tool call, on by default) costs, measured beside it.
  const quiet = await mcpScenario('api-key', 'stateless', { audit: { enabled: false } })
  scenarios.push({ ...quiet, name: 'api-key stateless, audit off' })
}

try {
  for (const scenario of scenarios) {
    const warm = await runLoad(tool, spec(scenario, 2))
    if (warm.non2xx > 0 || warm.errors > 0) throw new Error(`${scenario.name}: ${warm.non2xx} non-2xx, ${warm.errors} errors in warm-up`)
  }
  for (let round = 0; round < rounds; round++) {
    for (const scenario of scenarios) {
      const result = await runLoad(tool, spec(scenario, duration))
      scenario.results.push(result)
      process.stderr.write(`round ${round + 1}: ${scenario.name}: ${Math.round(result.rps)} req/s\n`)
    }
  }
} finally {
  for (const scenario of scenarios) scenario.rssStart = Math.min(scenario.rssStart, scenario.server.rss())
}

const limitRps = median(scenarios[0]?.results.map((r) => r.rps) ?? [])
const rows = scenarios.map((scenario) => {
  const rps = median(scenario.results.map((r) => r.rps))
  const failures = scenario.results.reduce((sum, r) => sum + r.non2xx + r.errors, 0)
  return {
    scenario: scenario.name,
    rps: Math.round(rps),
    ratio: rps / limitRps,
    p50ms: median(scenario.results.map((r) => r.p50ms)),
    p99ms: median(scenario.results.map((r) => r.p99ms)),
    rssStartMiB: scenario.rssStart,
    rssEndMiB: scenario.server.rss(),
    failures
  }
})
for (const scenario of scenarios.slice(1)) await scenario.server.stop()

/** Basic with a wrong-password flood in parallel: what a valid (cached) client sees. */
async function basicUnderFlood (): Promise<Record<string, unknown>> {
  // The flood and the valid client share 127.0.0.1 here, so the per-address failed-auth throttle
  // (which would stop a real flood after 10 attempts) is off: this measures the KDF bound itself.
  const scenario = await mcpScenario('basic', 'stateless', { rateLimit: { failedAuth: false } })
  try {
    await runLoad(tool, spec(scenario, 2, { connections: 8 }))
    const alone = await runLoad(tool, spec(scenario, duration, { connections: 8 }))
    const [valid, flood] = await Promise.all([
      runLoad(tool, spec(scenario, duration, { connections: 8 })),
      runLoad(tool, spec(scenario, duration, { connections: 32, headers: {}, floodUser: 'alice' }))
    ])
    return {
      validAloneRps: Math.round(alone.rps),
      validAloneP99ms: alone.p99ms,
      validRps: Math.round(valid.rps),
      validP50ms: valid.p50ms,
      validP99ms: valid.p99ms,
      validFailures: valid.non2xx + valid.errors,
      floodRps: Math.round(flood.rps),
      floodRefused: flood.non2xx
    }
  } finally {
    await scenario.server.stop()
  }
}

/** One stateful session driven for `long-requests` requests: does its memory grow? */
async function statefulLongRun (): Promise<Record<string, unknown>> {
  const scenario = await mcpScenario('api-key', 'stateful')
  try {
    // Long enough for V8 to grow its heap to a steady size, so what follows measures the session.
    await runLoad(tool, spec(scenario, 10))
    const before = scenario.server.rss()
    let requests = 0
    let failures = 0
    while (requests < Number(values['long-requests'])) {
      const result = await runLoad(tool, spec(scenario, 5))
      requests += result.requests
      failures += result.non2xx + result.errors
    }
    const after = scenario.server.rss()
    return { requests, failures, rssBeforeMiB: before, rssAfterMiB: after, growthMiB: after - before }
  } finally {
    await scenario.server.stop()
  }
}

const flood = values.only === undefined ? await basicUnderFlood() : undefined
const longRun = values.only === undefined ? await statefulLongRun() : undefined
await limit.stop()

const header = '| scenario | req/s | × limit | p50 ms | p99 ms | RSS start → end (MiB) |'
const table = [header, '| --- | ---: | ---: | ---: | ---: | ---: |', ...rows.map((row) =>
  `| ${row.scenario}${row.failures > 0 ? ` (${row.failures} failed requests)` : ''} | ${row.rps} | ${row.ratio.toFixed(2)} | ${round1(row.p50ms)} | ${round1(row.p99ms)} | ${Math.round(row.rssStartMiB)} → ${Math.round(row.rssEndMiB)} |`)]
console.log('\n' + table.join('\n'))
if (flood !== undefined) {
  console.log(`\nbasic, valid client (8 connections) alone: ${flood.validAloneRps as number} req/s, p99 ${round1(flood.validAloneP99ms as number)} ms`)
  console.log(`basic, valid client under a flood of distinct wrong passwords (32 connections): ${flood.validRps as number} req/s, p50 ${round1(flood.validP50ms as number)} ms, p99 ${round1(flood.validP99ms as number)} ms, ${flood.validFailures as number} failed; flood ${flood.floodRps as number} req/s, all refused (${flood.floodRefused as number} × 401/503)`)
}
if (longRun !== undefined) {
  console.log(`stateful, one session, ${longRun.requests as number} requests: RSS ${round1(longRun.rssBeforeMiB as number)} → ${round1(longRun.rssAfterMiB as number)} MiB (growth ${round1(longRun.growthMiB as number)} MiB), ${longRun.failures as number} failed`)
}

const resultsDir = distPath('../bench/results')
mkdirSync(resultsDir, { recursive: true })
const stamp = new Date().toISOString().replace(/[:.]/g, '-')
const report = { date: new Date().toISOString(), tool, connections, rounds, duration, node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model, rows, flood, longRun }
writeFileSync(join(resultsDir, `${stamp}.json`), JSON.stringify(report, null, 2))
writeFileSync(join(resultsDir, 'latest.md'), table.join('\n') + '\n')
console.log(`\nresults: bench/results/${stamp}.json`)
