import t from 'tap'
import { addCall, callTool, connect, post, textOf } from '../helpers/client.js'
import { strategyFixtures } from '../helpers/credentials.js'
import { listen, testConfig } from '../helpers/server.js'

// One end-to-end suite, run against every strategy through the SDK's own client.
for (const fixture of strategyFixtures) {
  for (const sessions of ['stateless', 'stateful'] as const) {
    t.test(`${fixture.name}, ${sessions}`, async (t) => {
      const server = await listen(testConfig({ auth: await fixture.auth(), mcp: { sessions } }))
      t.teardown(server.close)

      const { client, close } = await connect(server.url, fixture.headers())
      t.teardown(close)
      const { tools } = await client.listTools()
      t.equal(tools.length, 8, 'lists the calculator tools and whoami')
      const sum = await callTool(client, 'add', { a: 5, b: 3 })
      t.same(sum.structuredContent, { result: 8 }, 'add 5 3 = 8')
      const divided = await callTool(client, 'divide', { a: 1, b: 0 })
      t.equal(divided.isError, true, 'divide by zero is a tool error')
      t.match(textOf(divided), /Division by zero/)

      const refused = await post(server.url, addCall)
      t.equal(refused.status, 401, 'refused without credentials')
      t.match(refused.headers.get('www-authenticate'), fixture.challenge)
      t.match(await refused.json(), { statusCode: 401, code: 'MCP_AUTH_MISSING_CREDENTIALS', message: 'missing credentials' })
    })
  }
}
