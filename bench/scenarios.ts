import { runLoad, type LoadResult, type LoadSpec, type LoadTool } from './load.js'
import { CALL, MODERN_CALL, MODERN_HEADERS, type BenchConfigs, type ConfigDoc, type Strategy } from './configs.js'
import { distPath, startNode, type BenchProcess } from './processes.js'
import { openSession } from './sessions.js'

/** A server and the request that is sent to it over and over. */
export interface Scenario {
  name: string
  server: BenchProcess
  headers: Record<string, string>
  body: string
  /** Bearer tokens to cycle through instead of `headers`' one (many principals); `served` counts the requests sent with them so far. */
  tokens?: { file: string, count: number, served: number }
  /** Counts read before and after each measured run: their growth per request is reported (Redis commands). */
  counters?: Record<string, () => number>
  /** RSS when the scenario was set up, in MiB. */
  rssStart: number
}

export interface Measurement extends LoadResult {
  /** Server CPU (user + system) per request served, in µs. */
  cpuUs: number
  /** Growth of each of the scenario's counters per request served. */
  perRequest?: Record<string, number>
}

/** One scenario's runs in a group, and its ratio to the group's limit in each round. */
export interface Row {
  name: string
  runs: Measurement[]
  ratios: number[]
  rssStart: number
  rssEnd: number
  /** With a tokens file: the distinct principals the server saw, warm-up included. */
  principals?: number
}

export interface Shape {
  connections: number
  /** Seconds per measured run. */
  duration: number
  rounds: number
  /** Seconds of warm-up per scenario, before the rounds. */
  warm: number
}

export type Mode = 'stateless' | 'stateful' | 'modern'

export function loadSpec (scenario: Scenario, connections: number, seconds: number, extra: Partial<LoadSpec> = {}): LoadSpec {
  return {
    url: scenario.server.url,
    body: scenario.body,
    headers: scenario.headers,
    connections,
    duration: seconds,
    ...(scenario.tokens === undefined ? {} : { tokens: { file: scenario.tokens.file, offset: scenario.tokens.served } }),
    ...extra
  }
}

/** One load run, with the server CPU it cost per request (from /proc/<pid>/stat). */
export async function measure (tool: LoadTool, scenario: Scenario, spec: LoadSpec): Promise<Measurement> {
  const counters = Object.entries(scenario.counters ?? {})
  const cpuBefore = scenario.server.cpu()
  const countsBefore = counters.map(([, read]) => read())
  const result = await runLoad(tool, spec)
  const cpuUs = (scenario.server.cpu() - cpuBefore) * 1e6 / result.requests
  const perRequest = Object.fromEntries(counters.map(([name, read], index) => [name, (read() - (countsBefore[index] ?? NaN)) / result.requests]))
  if (scenario.tokens !== undefined) scenario.tokens.served += result.requests
  return { ...result, cpuUs, ...(counters.length === 0 ? {} : { perRequest }) }
}

/**
 * Warms every scenario up, then runs them round after round, interleaved, so a machine that slows
 * down mid-run slows every row alike. The first scenario is the limit: each round's ratios are to
 * the limit measured in that round.
 */
export async function runGroup (tool: LoadTool, scenarios: Scenario[], shape: Shape, log: (line: string) => void): Promise<Row[]> {
  for (const scenario of scenarios) {
    // Many principals: the warm-up goes on until every principal has been served once.
    do {
      const warm = await measure(tool, scenario, loadSpec(scenario, shape.connections, shape.warm))
      // A refusal means a wrong setup: stop. Socket errors (timeouts on a busy machine) are logged; the rounds' show in the table.
      if (warm.non2xx > 0 || warm.requests === 0) throw new Error(`${scenario.name}: ${warm.requests} requests, ${warm.non2xx} non-2xx in warm-up`)
      if (warm.errors > 0) log(`warm-up, ${scenario.name}: ${warm.errors} socket errors`)
    } while (scenario.tokens !== undefined && scenario.tokens.served < scenario.tokens.count)
  }
  const rows: Row[] = scenarios.map((scenario) => ({ name: scenario.name, runs: [], ratios: [], rssStart: scenario.rssStart, rssEnd: NaN }))
  for (let round = 0; round < shape.rounds; round++) {
    for (const [index, scenario] of scenarios.entries()) {
      const run = await measure(tool, scenario, loadSpec(scenario, shape.connections, shape.duration))
      rows[index]?.runs.push(run)
      log(`round ${round + 1}, ${shape.connections} connections: ${scenario.name}: ${Math.round(run.rps)} req/s, ${Math.round(run.cpuUs)} µs CPU/request`)
    }
  }
  const limitRuns = rows[0]?.runs ?? []
  for (const [index, row] of rows.entries()) {
    row.ratios = row.runs.map((run, round) => run.rps / (limitRuns[round]?.rps ?? NaN))
    row.rssEnd = scenarios[index]?.server.rss() ?? NaN
    const tokens = scenarios[index]?.tokens
    if (tokens !== undefined) row.principals = Math.min(tokens.served, tokens.count)
  }
  return rows
}

export interface McpScenarioOptions {
  name?: string
  edit?: (doc: ConfigDoc) => void
  /** Send each request with the next of this many JWTs, each for a different subject (jwt strategies only). */
  principals?: number
}

const LABELS: Record<Strategy, string> = { 'api-key': 'api-key', bearer: 'bearer', basic: 'basic (cached)', jwt: 'jwt HS256', 'jwt-es256': 'jwt ES256' }

export const scenarioName = (strategy: Strategy, mode: Mode): string => `${LABELS[strategy]} ${mode === 'modern' ? '2026-07-28' : mode}`

/** The server with the strategy's example config; `modern` is the 2026-07-28 era (always stateless). */
export async function mcpScenario (configs: BenchConfigs, strategy: Strategy, mode: Mode, options: McpScenarioOptions = {}): Promise<Scenario> {
  const file = configs.write(strategy, (doc) => {
    doc.mcp = { ...doc.mcp, sessions: mode === 'modern' ? 'stateless' : mode }
    options.edit?.(doc)
  })
  const server = await startNode(distPath('bin/fastify-mcp-auth.js'), ['serve', '--config', file], configs.env)
  let headers = configs.credentials(strategy, file)
  if (mode === 'stateful') headers = await openSession(server.url, headers)
  if (mode === 'modern') headers = { ...headers, ...MODERN_HEADERS }
  return {
    name: options.name ?? scenarioName(strategy, mode),
    server,
    headers,
    body: mode === 'modern' ? MODERN_CALL : CALL,
    ...(options.principals === undefined ? {} : { tokens: { file: configs.tokensFile(file, options.principals), count: options.principals, served: 0 } }),
    rssStart: server.rss()
  }
}

/** Row names the targets look rows up by. */
export const NAMES = {
  limit: 'limit: bare Fastify route',
  auditOff: 'api-key stateless, audit off',
  limitsMemory: 'api-key stateless, limits in memory',
  limitsRedis: 'api-key stateless, limits in Redis',
  principals: 'jwt HS256 stateless, 10,000 principals round-robin',
  connectionsLimit: 'limit: bare Fastify route, 1,000 connections',
  connections: 'api-key stateless, 1,000 connections'
} as const
