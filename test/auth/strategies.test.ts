import t from 'tap'
import { addCall, callTool, CLIENT_GENERATIONS, connect, post, textOf } from '../helpers/client.js'
import { strategyFixtures } from '../helpers/credentials.js'
import { listen, testConfig } from '../helpers/server.js'

// One end-to-end suite, run against every strategy through real SDK clients of both generations:
// a 1.x client (2025 revisions), a v2 client probing for 2026-07-28, and a v2 client pinned to it.
for (const fixture of strategyFixtures) {
  for (const sessions of ['stateless', 'stateful'] as const) {
    t.test(`${fixture.name}, ${sessions}`, async (t) => {
      const server = await listen(testConfig({ auth: await fixture.auth(), mcp: { sessions } }))
      t.teardown(server.close)

      for (const generation of CLIENT_GENERATIONS) {
        const { client, era, close } = await connect(server.url, fixture.headers(), generation)
        t.teardown(close)
        t.equal(era, generation === 'legacy' ? 'legacy' : 'modern', `${generation} client: ${generation === 'legacy' ? '2025' : '2026-07-28'} era`)
        const { tools } = await client.listTools()
        t.equal(tools.length, 8, `${generation}: lists the calculator tools and whoami`)
        const sum = await callTool(client, 'add', { a: 5, b: 3 })
        t.same(sum.structuredContent, { result: 8 }, `${generation}: add 5 3 = 8`)
        const divided = await callTool(client, 'divide', { a: 1, b: 0 })
        t.equal(divided.isError, true, `${generation}: divide by zero is a tool error`)
        t.match(textOf(divided), /Division by zero/)
      }

      const refused = await post(server.url, addCall)
      t.equal(refused.status, 401, 'refused without credentials')
      t.match(refused.headers.get('www-authenticate'), fixture.challenge)
      t.match(await refused.json(), { statusCode: 401, code: 'MCP_AUTH_MISSING_CREDENTIALS', message: 'missing credentials' })
    })
  }
}
