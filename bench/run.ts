import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, totalmem } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { openFilesLimit } from './cpu.js'
import { API_KEY, CALL, benchConfigs, type Strategy } from './configs.js'
import { floodRun, type FloodRun } from './flood.js'
import { WRK_TIMEOUT_S, type LoadTool } from './load.js'
import { distPath, startNode } from './processes.js'
import { startRedis } from './redis.js'
import { floodLine, idleLine, longRunLine, table } from './report.js'
import { mcpScenario, NAMES, runGroup, scenarioName, type Mode, type Row, type Scenario, type Shape } from './scenarios.js'
import { idleSessions, statefulLongRun } from './session-runs.js'
import { targets, targetsBlock } from './targets.js'

const { values } = parseArgs({
  options: {
    duration: { type: 'string' },
    rounds: { type: 'string' },
    connections: { type: 'string', default: '32' },
    tool: { type: 'string' },
    'long-requests': { type: 'string' },
    sessions: { type: 'string', default: '1000' },
    /** Only the rows (and extra runs) whose name contains this text; the limit always runs. */
    only: { type: 'string' },
    /** A smoke test: one round of 2 s. */
    quick: { type: 'boolean', default: false }
  }
})
const quick = values.quick
const main: Shape = {
  connections: Number(values.connections),
  duration: Number(values.duration ?? (quick ? 2 : 5)),
  rounds: Number(values.rounds ?? (quick ? 1 : 3)),
  warm: quick ? 1 : 2
}
const longRequests = Number(values['long-requests'] ?? (quick ? 20_000 : 200_000))
const wanted = (name: string): boolean => values.only === undefined || name.includes(values.only)

const wrkVersion = (() => {
  try {
    return execFileSync('wrk', ['--version'], { encoding: 'utf8' }).split('\n')[0]?.trim() ?? 'wrk'
  } catch (error) {
    // wrk --version exits with 1 after printing its version.
    const { status, stdout } = error as { status?: number, stdout?: string }
    return status === 1 ? (stdout ?? '').split('\n')[0]?.trim() ?? 'wrk' : undefined
  }
})()
const tool: LoadTool = values.tool === 'wrk' || values.tool === 'autocannon' ? values.tool : wrkVersion !== undefined ? 'wrk' : 'autocannon'
const loadAverage = (): string => loadavg().map((n) => n.toFixed(2)).join(', ')
const log = (line: string): void => { process.stderr.write(line + '\n') }

const loadStart = loadAverage()
console.log(`fastify-mcp-auth benchmark: ${tool}, ${main.connections} connections, ${main.rounds} rounds × ${main.duration}s interleaved, medians and min–max over rounds${tool === 'wrk' ? `, wrk timeout ${WRK_TIMEOUT_S} s` : ''}`)
console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${tool === 'wrk' ? wrkVersion ?? 'wrk' : 'autocannon'}, open files limit ${openFilesLimit()}`)
console.log(`load average at start (1, 5, 15 min): ${loadStart}`)
if (tool === 'autocannon') console.log('wrk not found: using autocannon, which shares the CPU with the server (install wrk for steadier figures)')

const configs = await benchConfigs()
const redis = wanted(NAMES.limitsRedis) ? await startRedis() : undefined
const redisSkipped = wanted(NAMES.limitsRedis) && redis === undefined ? 'redis-server or redis-cli is not on PATH' : undefined
if (redisSkipped !== undefined) console.log(`Redis row skipped: ${redisSkipped}`)

const limitServer = await startNode(distPath('bench/limit-server.js'), [], { LIMIT_API_KEY: API_KEY })
/** Every scenario and extra run; the MCP servers of the main table go into `scenarios`, for the caller to stop whatever happens. */
async function measureAll (scenarios: Scenario[]) {
  const limit: Scenario = { name: NAMES.limit, server: limitServer, headers: { 'x-api-key': API_KEY }, body: CALL, rssStart: limitServer.rss() }
  const add = async (name: string, start: () => Promise<Scenario>): Promise<void> => { if (wanted(name)) scenarios.push(await start()) }

  const strategies: Array<[Strategy, Mode[]]> = [
    ['api-key', ['stateless', 'stateful', 'modern']],
    ['bearer', ['stateless', 'stateful', 'modern']],
    ['basic', ['stateless', 'stateful', 'modern']],
    ['jwt', ['stateless', 'stateful', 'modern']],
    ['jwt-es256', ['stateless', 'modern']]
  ]
  for (const [strategy, modes] of strategies) {
    for (const mode of modes) await add(scenarioName(strategy, mode), async () => await mcpScenario(configs, strategy, mode))
  }
  // What the audit log (two JSON lines per tool call, on by default) costs, measured beside it.
  await add(NAMES.auditOff, async () => await mcpScenario(configs, 'api-key', 'stateless', { name: NAMES.auditOff, edit: (doc) => { doc.audit = { enabled: false } } }))
  // Limits high enough never to refuse: their cost, not their refusals (the table's failed column must read 0).
  const never = { max: 1_000_000_000, timeWindow: 60_000 }
  const limits = (redisUrl?: string) => ({ ...never, tools: { add: never }, ...(redisUrl === undefined ? {} : { redisUrl }) })
  await add(NAMES.limitsMemory, async () => await mcpScenario(configs, 'api-key', 'stateless', { name: NAMES.limitsMemory, edit: (doc) => { doc.rateLimit = limits() } }))
  if (redis !== undefined) {
    await add(NAMES.limitsRedis, async () => ({
      ...await mcpScenario(configs, 'api-key', 'stateless', { name: NAMES.limitsRedis, edit: (doc) => { doc.rateLimit = limits(redis.url) } }),
      counters: { 'Redis round trips': redis.reads, 'Redis script calls': redis.scriptCalls, 'Redis commands': redis.commands }
    }))
  }
  // Every request from the next of 10,000 subjects: far more principals than the server pool (mcp.maxServers, 1,000) keeps.
  await add(NAMES.principals, async () => await mcpScenario(configs, 'jwt', 'stateless', { name: NAMES.principals, principals: 10_000 }))

  const redisBefore = redis?.commandStats()
  let connectionRows: Row[] = []
  const mainRows = await runGroup(tool, [limit, ...scenarios], main, log)
  if (wanted(NAMES.connections)) {
    // 1,000 keep-alive connections, against the limit at the same load shape.
    const apiKey = scenarios.find((scenario) => scenario.name === scenarioName('api-key', 'stateless')) ??
      await mcpScenario(configs, 'api-key', 'stateless')
    if (!scenarios.includes(apiKey)) scenarios.push(apiKey)
    connectionRows = await runGroup(tool, [
      { ...limit, name: NAMES.connectionsLimit, rssStart: limit.server.rss() },
      { ...apiKey, name: NAMES.connections, rssStart: apiKey.server.rss() }
    ], { ...main, connections: 1000 }, log)
  }
  for (const scenario of scenarios) await scenario.server.stop()
  const redisAfter = redis?.commandStats()

  const floods: FloodRun[] = []
  for (const strategy of ['api-key', 'bearer', 'basic', 'jwt', 'jwt-es256'] as const) {
    if (wanted(`flood ${strategy}`)) floods.push(await floodRun(tool, configs, strategy, main))
  }
  const idle = wanted('idle sessions') ? await idleSessions(configs, Number(values.sessions), main.rounds) : undefined
  const longRun = wanted('stateful long run') ? await statefulLongRun(tool, configs, longRequests, main.connections, quick ? 2 : 10) : undefined
  return { mainRows, connectionRows, redisBefore, redisAfter, floods, idle, longRun }
}
const scenarios: Scenario[] = []
let measured: Awaited<ReturnType<typeof measureAll>>
try {
  measured = await measureAll(scenarios)
} finally {
  for (const scenario of scenarios) await scenario.server.stop()
  await limitServer.stop()
  await redis?.stop()
  configs.remove()
}
const { mainRows, connectionRows, redisBefore, redisAfter, floods, idle, longRun } = measured

const printed: string[] = ['', table(mainRows)]
if (connectionRows.length > 0) {
  const files = Number(openFilesLimit())
  printed.push('', `1,000 keep-alive connections (wrk -c1000), ratio to the limit at the same load, open files limit ${openFilesLimit()}` +
    `${files < 1100 ? ' (too low for 1,000 connections: raise it with `ulimit -n` before the run)' : ''}:`, table(connectionRows))
}
if (redisBefore !== undefined && redisAfter !== undefined) {
  const used = Object.entries(redisAfter).map(([name, calls]) => `${name} ${calls - (redisBefore[name] ?? 0)}`).filter((text) => !text.endsWith(' 0'))
  printed.push('', `Redis commands during the Redis row (warm-up included): ${used.join(', ') || 'none'}`)
}
if (floods.length > 0) {
  printed.push('', 'Floods of wrong credentials (the failed-auth throttle, per address, is off in these runs: flood and valid client share 127.0.0.1):')
  printed.push(...floods.map((run) => '- ' + floodLine(run)))
}
if (idle !== undefined) printed.push('', idleLine(idle))
if (longRun !== undefined) printed.push(longRunLine(longRun))
const results = { main: mainRows, connections: connectionRows, floods, idle, longRun, redisSkipped }
const summary = targets(results)
printed.push('', targetsBlock(summary), '', `load average at start: ${loadStart}; at end: ${loadAverage()}`)
console.log(printed.join('\n'))

const resultsDir = distPath('../bench/results')
mkdirSync(resultsDir, { recursive: true })
const stamp = new Date().toISOString().replace(/[:.]/g, '-')
const report = { date: new Date().toISOString(), tool, wrk: wrkVersion, shape: main, node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model, loadStart, loadEnd: loadAverage(), ...results, targets: summary }
writeFileSync(join(resultsDir, `${stamp}.json`), JSON.stringify(report, null, 2))
writeFileSync(join(resultsDir, 'latest.md'), printed.join('\n') + '\n')
console.log(`\nresults: bench/results/${stamp}.json`)
