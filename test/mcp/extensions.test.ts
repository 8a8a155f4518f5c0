import t from 'tap'
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client'
import { McpServer } from '@modelcontextprotocol/server'
import { Client as LegacyClient } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport as LegacyHttpTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { DUAL_ERA_PROTOCOL_VERSIONS } from '../../mcp/protocol-versions.js'
import type { CreateMcpServer } from '../../mcp/server.js'
import { issuingConfig, tokens } from '../helpers/issuing.js'
import { listen, testConfig, type TestServer } from '../helpers/server.js'

// The MCP extension for OAuth client credentials: advertised in the server capabilities (both eras)
// exactly when this deployment's token endpoint is on.

const EXTENSION = 'io.modelcontextprotocol/oauth-client-credentials'
const KEY = 'extensions-test-key-0123456789abcdefghijk'

/** The capabilities' extensions a legacy (initialize) and a modern (server/discover) client are told of. */
async function advertised (server: TestServer, headers: Record<string, string>): Promise<{ legacy: unknown, modern: unknown }> {
  const legacy = new LegacyClient({ name: 'extensions-test', version: '0' })
  await legacy.connect(new LegacyHttpTransport(server.url, { requestInit: { headers } }))
  const modern = new Client({ name: 'extensions-test', version: '0' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } })
  await modern.connect(new StreamableHTTPClientTransport(server.url, { requestInit: { headers } }))
  const found = { legacy: legacy.getServerCapabilities()?.extensions, modern: modern.getServerCapabilities()?.extensions }
  await legacy.close()
  await modern.close()
  return found
}

t.test('with the token endpoint on, initialize and server/discover carry the extension', async (t) => {
  const server = await listen(issuingConfig())
  t.teardown(server.close)
  const { access } = await tokens(server.url)
  t.same(await advertised(server, { authorization: `Bearer ${access}` }), { legacy: { [EXTENSION]: {} }, modern: { [EXTENSION]: {} } })
})

t.test('without a token endpoint, no extension is advertised', async (t) => {
  const server = await listen(testConfig({ auth: { strategy: 'api-key', apiKey: { keys: [{ id: 'k', key: KEY, permissions: ['*'] }] } } }))
  t.teardown(server.close)
  t.same(await advertised(server, { 'x-api-key': KEY }), { legacy: undefined, modern: undefined })
})

t.test('a custom server (createServer) keeps its own extensions and gets the deployment\'s', async (t) => {
  const createServer: CreateMcpServer = () => new McpServer({ name: 'custom', version: '1' }, {
    supportedProtocolVersions: [...DUAL_ERA_PROTOCOL_VERSIONS],
    capabilities: { tools: {}, extensions: { 'com.example/own': { level: 1 } } }
  })
  const server = await listen(issuingConfig(), { mcp: { createServer } })
  t.teardown(server.close)
  const { access } = await tokens(server.url)
  const both = { 'com.example/own': { level: 1 }, [EXTENSION]: {} }
  t.same(await advertised(server, { authorization: `Bearer ${access}` }), { legacy: both, modern: both })
})
