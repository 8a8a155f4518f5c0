import { spawnSync } from 'node:child_process'
import type { Test } from 'tap'

/**
 * Software the suite uses when the machine has it (`npm ci` does not install it): tests that need
 * it are skipped with one line saying how to run them, unless MCP_AUTH_TEST_REQUIRE names it
 * (`.ci/run` sets `MCP_AUTH_TEST_REQUIRE=redis,curl,browser`), which turns the skip into a failure.
 */
export type External = 'redis' | 'curl' | 'browser'

const required = new Set((process.env.MCP_AUTH_TEST_REQUIRE ?? '').split(',').map((name) => name.trim()).filter((name) => name !== ''))

export function onPath (command: string): boolean {
  const found = spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' })
  return found.status === 0
}

/** Runs `fn` when `available`; otherwise skips (or fails, when required) with `howTo`. */
export function whenAvailable (t: Test, external: External, available: boolean, name: string, howTo: string, fn: (t: Test) => Promise<void>): void {
  if (available) {
    t.test(name, fn)
  } else if (required.has(external)) {
    t.test(name, async (t) => { t.fail(`${external} is required here (MCP_AUTH_TEST_REQUIRE) but missing: ${howTo}`) })
  } else {
    t.test(name, { skip: `needs ${external}: ${howTo}` }, async () => {})
  }
}
