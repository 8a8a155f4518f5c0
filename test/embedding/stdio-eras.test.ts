import t from 'tap'
import { fileURLToPath } from 'node:url'
import { Client, type CallToolResult } from '@modelcontextprotocol/client'
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio'

// `fastify-mcp-auth stdio` serves both eras, like the HTTP endpoint: a v2 client pinned to
// 2026-07-28 and one that probes first both get the principal's calculator and its permissions.
const ENTRY = fileURLToPath(new URL('../../bin/fastify-mcp-auth.ts', import.meta.url))
const LOADER = process.execArgv.filter((arg) => arg.includes('@tapjs/typescript'))
const KEY = 'stdio-eras-key-0123456789abcdefghijk'

for (const mode of ['modern', 'auto'] as const) {
  t.test(`a v2 client (${mode === 'modern' ? 'pinned to 2026-07-28' : 'probing'}) over stdio`, async (t) => {
    const dir = t.testdir({
      'config.yaml': `auth:\n  strategy: api-key\n  apiKey:\n    keys:\n      - { id: local, key: "${KEY}", permissions: ["calculator:add", "calculator:whoami"] }\n`
    })
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [...LOADER, ENTRY, 'stdio', '--config', `${dir}/config.yaml`],
      env: { PATH: process.env.PATH ?? '', TS_NODE_TRANSPILE_ONLY: '1', MCP_AUTH_CREDENTIAL: KEY },
      stderr: 'pipe'
    })
    const client = new Client({ name: 'stdio-eras', version: '0' }, { versionNegotiation: { mode: mode === 'modern' ? { pin: '2026-07-28' } : 'auto' } })
    await client.connect(transport)
    t.teardown(() => client.close())
    t.equal(client.getProtocolEra(), 'modern')
    t.same((await client.listTools()).tools.map((tool) => tool.name).sort(), ['add', 'whoami'], 'tools/list follows the permissions')
    const sum: CallToolResult = await client.callTool({ name: 'add', arguments: { a: 5, b: 3 } })
    t.same(sum.structuredContent, { result: 8 })
    const who: CallToolResult = await client.callTool({ name: 'whoami', arguments: {} })
    t.same(who.structuredContent, { id: 'local', strategy: 'api-key', permissions: ['calculator:add', 'calculator:whoami'] }, 'the principal reaches the tool')
    await t.rejects(client.callTool({ name: 'divide', arguments: { a: 1, b: 1 } }), { code: -32003, message: /Permission denied: calculator:divide/ })
  })
}
