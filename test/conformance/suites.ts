import { spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** Pinned: the suite's own versions, and the Node line it needs (it does not run on Node 20). */
export const NODE_PACKAGE = 'node@22.23.3'

export interface Suite {
  name: string
  version: string
  args: readonly string[]
}

/** The official suites this project answers to: every legacy scenario, and the 2026-07-28 set. */
export const SUITES: readonly Suite[] = [
  { name: 'legacy scenarios (0.1.16, all 32)', version: '0.1.16', args: ['--suite', 'all'] },
  { name: '2025-11-25 scenarios (0.2.0-alpha.12)', version: '0.2.0-alpha.12', args: [] },
  { name: '2026-07-28 scenarios (0.2.0-alpha.12)', version: '0.2.0-alpha.12', args: ['--suite', 'all', '--spec-version', '2026-07-28'] }
]

export interface Check {
  id: string
  status: 'SUCCESS' | 'FAILURE' | 'WARNING' | 'INFO' | 'SKIPPED'
  errorMessage?: string
}

export interface SuiteRun {
  /** Checks by scenario name. */
  scenarios: Map<string, Check[]>
  output: string
}

/** Runs one suite against `url` with Node 22 from the npm `node` package, and reads its results. */
export async function runSuite (suite: Suite, url: string, only?: readonly string[]): Promise<SuiteRun> {
  const out = mkdtempSync(join(tmpdir(), 'mcp-conformance-'))
  const scenarios = only === undefined ? [[]] : only.map((name) => ['--scenario', name])
  let output = ''
  for (const scenario of scenarios) {
    const args = ['-y', '-p', NODE_PACKAGE, '-p', `@modelcontextprotocol/conformance@${suite.version}`, '--', 'conformance', 'server', '--url', url, '-o', out, ...suite.args, ...scenario]
    output += await new Promise<string>((resolve) => {
      const child = spawn('npx', args, { stdio: ['ignore', 'pipe', 'pipe'] })
      let text = ''
      child.stdout.on('data', (chunk: Buffer) => { text += chunk.toString() })
      child.stderr.on('data', (chunk: Buffer) => { text += chunk.toString() })
      child.on('close', () => resolve(text))
    })
  }
  const results = new Map<string, Check[]>()
  for (const dir of readdirSync(out)) {
    const name = /^server-(.+)-\d{4}-\d{2}-\d{2}T/.exec(dir)?.[1]
    if (name === undefined) continue
    const checks = JSON.parse(readFileSync(join(out, dir, 'checks.json'), 'utf8')) as Check[]
    results.set(name, [...(results.get(name) ?? []), ...checks])
  }
  return { scenarios: results, output }
}
