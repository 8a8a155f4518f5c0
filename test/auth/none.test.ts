import t from 'tap'
import { callTool, connect } from '../helpers/client.js'
import { listen, testConfig } from '../helpers/server.js'

t.test('strategy none on loopback: anonymous principal, a warning at start', async (t) => {
  const server = await listen(testConfig({ auth: { strategy: 'none' } }))
  t.teardown(server.close)
  for (const generation of ['legacy', 'modern'] as const) {
    const { client, close } = await connect(server.url, {}, generation)
    t.teardown(close)
    t.same((await callTool(client, 'add', { a: 5, b: 3 })).structuredContent, { result: 8 }, `${generation} client`)
  }
  const warning = server.logs.records().find((r) => r.level === 40)
  t.match(warning, { msg: /authentication is OFF/ })
})

t.test('CALCULATOR_REQUIRE_AUTH=false selects it over the file', async (t) => {
  const config = testConfig({ auth: { strategy: 'api-key', apiKey: { keys: [{ id: 'k', key: 'unused-key-0123456789abcdef', permissions: [] }] } } },
    { CALCULATOR_REQUIRE_AUTH: 'false' })
  const server = await listen(config)
  t.teardown(server.close)
  const { client, close } = await connect(server.url)
  t.teardown(close)
  t.same((await callTool(client, 'sqrt', { x: 16 })).structuredContent, { result: 4 })
})
