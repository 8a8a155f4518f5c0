import t from 'tap'
import Fastify from 'fastify'
import { apiKeyAuth } from '../../plugins/auth/api-key.js'
import { mcpRoutes } from '../../routes/mcp.js'
import { startCredentialProxy } from './credential-proxy.js'
import { createConformanceServer } from './fixture-server.js'
import { runSuite, SUITES } from './suites.js'

// The official MCP conformance suite against servers mounted through mcpRoutes behind real auth,
// reached through a loopback proxy that adds the credential (the suite sends none).
// `npm run conformance`; .ci/run runs it after `npm test`.
const KEY = 'conformance-api-key-0123456789abcdefghij'
const only = process.env.CONFORMANCE_SCENARIOS?.split(',').filter((name) => name !== '')

for (const sessions of ['stateless', 'stateful'] as const) {
  t.test(`fixture server behind api-key, ${sessions}`, async (t) => {
    const app = Fastify({ logger: false })
    await app.register(async (scope) => {
      await scope.register(apiKeyAuth, { keys: [{ id: 'conformance', key: KEY, permissions: ['*'] }] })
      await scope.register(mcpRoutes, { createServer: createConformanceServer, sessions })
    })
    await app.listen({ host: '127.0.0.1', port: 0 })
    t.teardown(() => app.close())
    const address = app.server.address()
    const port = typeof address === 'object' && address !== null ? address.port : 0
    const proxy = await startCredentialProxy(new URL(`http://127.0.0.1:${port}/mcp`), { 'x-api-key': KEY })
    t.teardown(proxy.close)
    for (const suite of SUITES) {
      const run = await runSuite(suite, proxy.url.replace('127.0.0.1', 'localhost'), only)
      if (only === undefined) t.ok(run.scenarios.size > 0, `${suite.name}: ran ${run.scenarios.size} scenarios`, { output: run.output.slice(-3000) })
      for (const [scenario, checks] of run.scenarios) {
        const failures = checks.filter((check) => check.status === 'FAILURE')
        t.same(failures.map((check) => `${check.id}: ${check.errorMessage ?? ''}`), [], `${suite.name}: ${scenario}`)
        for (const warning of checks.filter((check) => check.status === 'WARNING')) t.comment(`warning: ${scenario}: ${warning.id}: ${warning.errorMessage ?? ''}`)
      }
    }
  })
}
