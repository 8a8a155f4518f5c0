import t from 'tap'
import { post } from '../helpers/client.js'
import { listen, testConfig } from '../helpers/server.js'

// initialize negotiates the version in its body; the MCP-Protocol-Version header rules apply to
// the requests that follow it.
const KEY = 'initialize-key-0123456789abcdefghijk'
const withKey = { 'x-api-key': KEY }
const initialize = (params: Record<string, unknown>) => ({ jsonrpc: '2.0', id: 1, method: 'initialize', params })
const valid = { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '0' } }

for (const sessions of ['stateless', 'stateful'] as const) {
  t.test(`${sessions}: initialize`, async (t) => {
    const server = await listen(testConfig({ auth: { strategy: 'api-key', apiKey: { keys: [{ id: 'k', key: KEY, permissions: ['*'] }] } }, mcp: { sessions } }))
    t.teardown(server.close)

    for (const header of ['2024-01-01', 'not-a-version', '2025-11-25']) {
      const answered = await post(server.url, initialize(valid), { ...withKey, 'mcp-protocol-version': header })
      t.equal(answered.status, 200, `the version header on initialize is not what decides (${header})`)
      t.match(await answered.json(), { id: 1, result: { protocolVersion: '2025-06-18', serverInfo: { name: 'fastify-mcp-auth-calculator' } } })
    }
    const counterOffer = await post(server.url, initialize({ ...valid, protocolVersion: '1999-01-01' }), withKey)
    t.match(await counterOffer.json(), { result: { protocolVersion: '2025-11-25' } }, 'an unknown version is answered with the latest 2025 one')

    const problems: Array<[Record<string, unknown>, RegExp]> = [
      [{ capabilities: {}, clientInfo: { name: 'raw', version: '0' } }, /params\.protocolVersion/],
      [{ protocolVersion: 20250618, capabilities: {}, clientInfo: { name: 'raw', version: '0' } }, /params\.protocolVersion/],
      [{ protocolVersion: '2025-06-18', clientInfo: { name: 'raw', version: '0' } }, /params\.capabilities/],
      [{ protocolVersion: '2025-06-18', capabilities: {} }, /params\.clientInfo/]
    ]
    for (const [params, message] of problems) {
      const refused = await post(server.url, initialize(params), withKey)
      t.equal(refused.status, 400, `400: ${String(message)}`)
      const body = await refused.json() as { id: unknown, error: { code: number, message: string } }
      t.same({ id: body.id, code: body.error.code }, { id: 1, code: -32602 })
      t.match(body.error.message, message)
      t.notMatch(body.error.message, /"code"|invalid_type|ZodError/, 'a sentence, not a schema dump')
    }

    const later = await post(server.url, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, { ...withKey, 'mcp-protocol-version': '2024-01-01' })
    t.equal(later.status, 400, 'after initialize, an unsupported version header is refused')
    t.match(await later.json(), { id: 2, error: { code: -32000, message: /unsupported MCP-Protocol-Version/ } })
  })
}
