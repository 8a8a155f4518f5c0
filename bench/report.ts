import type { FloodRun } from './flood.js'
import type { Row } from './scenarios.js'
import type { IdleSessions, LongRun } from './session-runs.js'
import { fixed, max, median, min, spread } from './stats.js'

export const failuresOf = (row: Row): number => row.runs.reduce((sum, run) => sum + run.non2xx + run.errors, 0)

/** A markdown table: median req/s, the ratio to the group's limit with its min–max over the rounds, and the rest as medians. */
export function table (rows: readonly Row[]): string {
  const lines = [
    '| scenario | req/s | × limit | × limit min–max | p50 ms | p99 ms | CPU µs/req | RSS start → end (MiB) | failed |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |'
  ]
  for (const row of rows) {
    lines.push(`| ${row.name} | ${Math.round(median(row.runs.map((run) => run.rps)))} | ${median(row.ratios).toFixed(2)} | ` +
      `${min(row.ratios).toFixed(2)}–${max(row.ratios).toFixed(2)} | ${fixed(median(row.runs.map((run) => run.p50ms)))} | ` +
      `${fixed(median(row.runs.map((run) => run.p99ms)))} | ${Math.round(median(row.runs.map((run) => run.cpuUs)))} | ` +
      `${Math.round(row.rssStart)} → ${Math.round(row.rssEnd)} | ${failuresOf(row)} |`)
  }
  return lines.join('\n')
}

export function floodLine (run: FloodRun): string {
  const valid = run.valid
  const failed = valid.reduce((sum, r) => sum + r.non2xx + r.errors, 0)
  const refused = run.floods.reduce((sum, r) => sum + r.non2xx, 0)
  const floodErrors = run.floods.reduce((sum, r) => sum + r.errors, 0)
  return `${run.strategy}: valid client (8 connections) alone ${Math.round(run.alone.rps)} req/s, p99 ${fixed(run.alone.p99ms)} ms; ` +
    `beside 32 connections of ${run.what}: ${Math.round(median(valid.map((r) => r.rps)))} req/s, p99 ${spread(valid.map((r) => r.p99ms), 1)} ms, ${failed} failed; ` +
    `flood ${Math.round(median(run.floods.map((r) => r.rps)))} req/s, ${refused} refused (401/503)${floodErrors > 0 ? `, ${floodErrors} socket errors` : ''}`
}

/** Bytes per KB (1000), as the target is stated. */
export const kbPerSession = (idle: IdleSessions): number[] => idle.kibPerSession.map((kib) => kib * 1.024)

export function idleLine (idle: IdleSessions): string {
  return `idle stateful sessions: ${kbPerSession(idle).length} rounds of ${idle.sessionsPerRound} sessions (initialize + notifications/initialized), ` +
    `RSS ${fixed(idle.rssBeforeMiB)} → ${fixed(idle.rssAfterMiB)} MiB: ${spread(kbPerSession(idle), 1)} KB per idle session`
}

export function longRunLine (run: LongRun): string {
  return `stateful, one session, ${run.requests} requests: RSS ${fixed(run.rssBeforeMiB)} → ${fixed(run.rssAfterMiB)} MiB ` +
    `(growth ${fixed(run.rssAfterMiB - run.rssBeforeMiB)} MiB), ${run.failures} failed`
}
