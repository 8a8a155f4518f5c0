import t from 'tap'
import { fileURLToPath } from 'node:url'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js'
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js'
import { runCli } from '../helpers/spawn-cli.js'

const ENTRY = fileURLToPath(new URL('../../bin/fastify-mcp-auth.ts', import.meta.url))
const LOADER = process.execArgv.filter((arg) => arg.includes('@tapjs/typescript'))
const KEY = 'stdio-test-key-0123456789abcdefghijk'

function stdioClient (configFile: string, env: Record<string, string>) {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [...LOADER, ENTRY, 'stdio', '--config', configFile],
    env: { PATH: process.env.PATH ?? '', TS_NODE_TRANSPILE_ONLY: '1', ...env },
    stderr: 'pipe'
  })
  return { transport, client: new Client({ name: 'stdio-test', version: '0' }) }
}

t.test('the calculator over stdio, for the principal named by MCP_AUTH_CREDENTIAL', async (t) => {
  const dir = t.testdir({
    'config.yaml': `auth:\n  strategy: api-key\n  apiKey:\n    keys:\n      - { id: local, key: "${KEY}", permissions: ["calculator:add", "calculator:whoami"] }\n`
  })
  const { client, transport } = stdioClient(`${dir}/config.yaml`, { MCP_AUTH_CREDENTIAL: KEY })
  await client.connect(transport)
  t.teardown(() => client.close())
  t.same((await client.listTools()).tools.map((tool) => tool.name).sort(), ['add', 'whoami'], 'tools/list follows the permissions')
  t.same((await client.callTool({ name: 'add', arguments: { a: 5, b: 3 } }) as CallToolResult).structuredContent, { result: 8 })
  t.same((await client.callTool({ name: 'whoami', arguments: {} }) as CallToolResult).structuredContent, { id: 'local', strategy: 'api-key', permissions: ['calculator:add', 'calculator:whoami'] })
  await t.rejects(client.callTool({ name: 'divide', arguments: { a: 1, b: 1 } }), { code: -32003, message: /Permission denied: calculator:divide/ })
})

t.test('the seed\'s form: CALCULATOR_API_KEY in the launch environment, with the default config', async (t) => {
  const { client, transport } = stdioClient(fileURLToPath(new URL('../../config/default.yaml', import.meta.url)), { CALCULATOR_API_KEY: KEY })
  await client.connect(transport)
  t.teardown(() => client.close())
  t.same((await client.callTool({ name: 'sqrt', arguments: { x: 81 } }) as CallToolResult).structuredContent, { result: 9 })
})

t.test('a wrong or missing credential stops it with exit code 2 and a message on stderr', async (t) => {
  const dir = t.testdir({ 'config.yaml': `auth:\n  strategy: api-key\n  apiKey:\n    keys:\n      - { id: local, key: "${KEY}", permissions: ["*"] }\n` })
  const wrong = await runCli(['stdio', '--config', `${dir}/config.yaml`], { MCP_AUTH_CREDENTIAL: 'wrong-key-0123456789abcdefghijklm' })
  t.equal(wrong.code, 2)
  t.match(wrong.stderr, /the credential in MCP_AUTH_CREDENTIAL was refused \(invalid credentials\)/)
  t.equal(wrong.stdout, '', 'nothing on stdout, which belongs to the protocol')
  const missing = await runCli(['stdio', '--config', `${dir}/config.yaml`], {})
  t.equal(missing.code, 2)
  t.match(missing.stderr, /set MCP_AUTH_CREDENTIAL/)
})
