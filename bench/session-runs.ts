import type { BenchConfigs } from './configs.js'
import type { LoadTool } from './load.js'
import { loadSpec, mcpScenario, measure } from './scenarios.js'
import { openSessions } from './sessions.js'

export interface IdleSessions {
  sessionsPerRound: number
  /** Per round: RSS growth per session opened, in KiB. */
  kibPerSession: number[]
  rssBeforeMiB: number
  rssAfterMiB: number
}

/**
 * Idle stateful sessions: rounds of `count` sessions (initialize + notifications/initialized, one
 * API key whose per-principal quota is raised to fit), RSS read once every session of the round is
 * confirmed open. Nothing is forced (no GC): a collection in between shows up as spread.
 */
export async function idleSessions (configs: BenchConfigs, count: number, rounds: number): Promise<IdleSessions> {
  // The warm-up batch, the rounds, and the session mcpScenario opens.
  const total = count * (rounds + 1) + 1
  const scenario = await mcpScenario(configs, 'api-key', 'stateful', {
    name: 'idle sessions',
    edit: (doc) => { doc.mcp = { ...doc.mcp, maxSessions: total, maxSessionsPerPrincipal: total } }
  })
  try {
    const headers = { 'x-api-key': scenario.headers['x-api-key'] ?? '' }
    // A first batch warms the code paths (JIT, lazily built tables) so the rounds measure sessions.
    await openSessions(scenario.server.url, headers, Math.min(count, 200))
    const rssBeforeMiB = scenario.server.rss()
    const kibPerSession: number[] = []
    for (let round = 0; round < rounds; round++) {
      const before = scenario.server.rss()
      await openSessions(scenario.server.url, headers, count)
      kibPerSession.push((scenario.server.rss() - before) * 1024 / count)
    }
    return { sessionsPerRound: count, kibPerSession, rssBeforeMiB, rssAfterMiB: scenario.server.rss() }
  } finally {
    await scenario.server.stop()
  }
}

export interface LongRun {
  requests: number
  failures: number
  rssBeforeMiB: number
  rssAfterMiB: number
}

/** One stateful session driven for `requests` requests: does its memory grow? */
export async function statefulLongRun (tool: LoadTool, configs: BenchConfigs, requests: number, connections: number, warm: number): Promise<LongRun> {
  const scenario = await mcpScenario(configs, 'api-key', 'stateful')
  try {
    // Long enough for V8 to grow its heap to a steady size, so what follows measures the session.
    await measure(tool, scenario, loadSpec(scenario, connections, warm))
    const rssBeforeMiB = scenario.server.rss()
    let served = 0
    let failures = 0
    while (served < requests) {
      const result = await measure(tool, scenario, loadSpec(scenario, connections, 5))
      served += result.requests
      failures += result.non2xx + result.errors
    }
    return { requests: served, failures, rssBeforeMiB, rssAfterMiB: scenario.server.rss() }
  } finally {
    await scenario.server.stop()
  }
}
