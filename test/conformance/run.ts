import t, { type Test } from 'tap'
import Fastify from 'fastify'
import { apiKeyAuth } from '../../plugins/auth/api-key.js'
import { mcpRoutes } from '../../routes/mcp.js'
import { strategyFixtures } from '../helpers/credentials.js'
import { listen, testConfig } from '../helpers/server.js'
import { startCredentialProxy } from './credential-proxy.js'
import { createConformanceServer } from './fixture-server.js'
import { runSuite, SUITES, type Check } from './suites.js'

// The official MCP conformance suite against servers mounted through mcpRoutes behind real auth,
// reached through a loopback proxy that adds the credential (the suite sends none).
// `npm run conformance`; .ci/run runs it after `npm test`. CONFORMANCE_SCENARIOS=a,b runs only those.
const KEY = 'conformance-api-key-0123456789abcdefghij'
const only = process.env.CONFORMANCE_SCENARIOS?.split(',').filter((name) => name !== '')

/**
 * What the calculator can be held to: the scenarios about the protocol and transport, not the
 * ones about fixtures it does not have. In server-stateless, the checks that need the suite's
 * diagnostic tools report "Not testable" for it.
 */
const CALCULATOR_SCENARIOS = new Set([
  'server-initialize', 'ping', 'tools-list', 'server-session-lifecycle', 'server-sse-multiple-streams', 'dns-rebinding-protection',
  'server-stateless', 'http-header-validation', 'input-required-result-unsupported-methods'
])

async function check (t: Test, url: string, applicable: (scenario: string, check: Check) => boolean): Promise<void> {
  // The DNS-rebinding scenario needs a localhost URL.
  const target = url.replace('127.0.0.1', 'localhost')
  for (const suite of SUITES) {
    const run = await runSuite(suite, target, only)
    if (only === undefined) t.ok(run.scenarios.size > 0, `${suite.name}: ran ${run.scenarios.size} scenarios`, { output: run.output.slice(-3000) })
    for (const [scenario, checks] of run.scenarios) {
      const held = checks.filter((c) => applicable(scenario, c))
      if (held.length === 0) continue
      const failures = held.filter((c) => c.status === 'FAILURE')
      t.same(failures.map((c) => `${c.id}: ${c.errorMessage ?? ''}`), [], `${suite.name}: ${scenario} (${held.length - failures.length}/${held.length} checks)`)
      for (const warning of held.filter((c) => c.status === 'WARNING')) t.comment(`warning: ${scenario}: ${warning.id}: ${warning.errorMessage ?? ''}`)
    }
  }
}

/**
 * The suite is one principal that opens a session per scenario (over a hundred per server) and does not
 * always end them, so the default per-principal quota (50) would refuse its later scenarios with 503.
 */
const SUITE_SESSIONS = 1000

for (const sessions of ['stateless', 'stateful'] as const) {
  t.test(`the fixture server behind api-key, ${sessions}: every scenario`, async (t) => {
    const app = Fastify({ logger: false })
    await app.register(async (scope) => {
      await scope.register(apiKeyAuth, { keys: [{ id: 'conformance', key: KEY, permissions: ['*'] }] })
      await scope.register(mcpRoutes, { createServer: createConformanceServer, sessions, maxSessionsPerPrincipal: SUITE_SESSIONS })
    })
    await app.listen({ host: '127.0.0.1', port: 0 })
    t.teardown(() => app.close())
    const address = app.server.address()
    const port = typeof address === 'object' && address !== null ? address.port : 0
    const proxy = await startCredentialProxy(new URL(`http://127.0.0.1:${port}/mcp`), { 'x-api-key': KEY })
    t.teardown(proxy.close)
    await check(t, proxy.url, () => true)
  })
}

for (const fixture of strategyFixtures.filter((f) => !f.name.includes(','))) {
  for (const sessions of ['stateless', 'stateful'] as const) {
    t.test(`the calculator behind ${fixture.name}, ${sessions}: the protocol and transport scenarios`, async (t) => {
      const server = await listen(testConfig({ auth: await fixture.auth(), mcp: { sessions, maxSessionsPerPrincipal: SUITE_SESSIONS } }))
      t.teardown(server.close)
      const proxy = await startCredentialProxy(server.url, fixture.headers())
      t.teardown(proxy.close)
      await check(t, proxy.url, (scenario, c) => CALCULATOR_SCENARIOS.has(scenario) && !(c.errorMessage ?? '').startsWith('Not testable'))
    })
  }
}
