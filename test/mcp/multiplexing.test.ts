import t from 'tap'
import { McpServer } from '@modelcontextprotocol/server'
import { z } from 'zod'
import { registerCalculatorTools } from '../../mcp/calculator.js'
import { DUAL_ERA_PROTOCOL_VERSIONS } from '../../mcp/protocol-versions.js'
import type { MountedServer } from '../../mcp/server.js'
import { post, postModern } from '../helpers/client.js'
import { listen, testConfig } from '../helpers/server.js'

const keys = ['alpha', 'bravo', 'charlie', 'delta'].map((id) => ({ id, key: `${id}-key-0123456789abcdefghijklmnop` }))

/** The calculator plus a slow echo of the caller, so that responses finish out of order; all of them direct tools. */
function calculatorWithEcho (): MountedServer {
  const server = new McpServer({ name: 'mux', version: '0' }, { supportedProtocolVersions: [...DUAL_ERA_PROTOCOL_VERSIONS] })
  const directTools = registerCalculatorTools(server)
  directTools.set('whoami-later', server.registerTool('whoami-later', { inputSchema: z.object({ delay: z.number() }) }, async ({ delay }, ctx) => {
    await new Promise((resolve) => setTimeout(resolve, delay))
    return { content: [{ type: 'text', text: ctx.http?.authInfo?.clientId ?? '' }] }
  }))
  return { server, directTools }
}

for (const fastToolCalls of [true, false]) {
  for (const sessions of ['stateless', 'stateful'] as const) {
    // A third of the calls are 2026-07-28 requests: each principal's legacy and modern servers serve at once.
    t.test(`1,000 concurrent calls of both eras, all with id 1, each answered to its own caller (${sessions}, fast path ${fastToolCalls ? 'on' : 'off'})`, async (t) => {
      const server = await listen(testConfig({
        auth: { strategy: 'api-key', apiKey: { keys: keys.map(({ id, key }) => ({ id, key, permissions: ['*'] })) } },
        mcp: { sessions, fastToolCalls }
      }), { mcp: { createServer: calculatorWithEcho } })
      t.teardown(server.close)

      const sessionOf = new Map<string, string>()
      if (sessions === 'stateful') {
        for (const { id, key } of keys) {
          const response = await post(server.url, { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: id, version: '0' } } }, { 'x-api-key': key })
          sessionOf.set(id, response.headers.get('mcp-session-id') ?? '')
        }
      }
      const calls = Array.from({ length: 1000 }, (_, i) => {
        const caller = keys[i % keys.length] ?? keys[0]!
        const a = Math.round(Math.random() * 1e6)
        const b = Math.round(Math.random() * 1e6)
        const echo = i % 10 === 0
        const body = echo
          ? { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'whoami-later', arguments: { delay: Math.floor(Math.random() * 20) } } }
          : { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: i % 2 === 0 ? 'add' : 'multiply', arguments: { a, b } } }
        const expected = echo ? caller.id : String(i % 2 === 0 ? a + b : a * b)
        const modern = i % 3 === 1
        const headers: Record<string, string> = { 'x-api-key': caller.key }
        const session = sessionOf.get(caller.id)
        // The modern era has no sessions: its requests carry none.
        if (session !== undefined && !modern) headers['mcp-session-id'] = session
        return { body, headers, expected, modern }
      })
      const answers = await Promise.all(calls.map(async ({ body, headers, modern }) => {
        const response = modern ? await postModern(server.url, body.method, body.params, headers, body.id) : await post(server.url, body, headers)
        return { status: response.status, json: await response.json() as { id: unknown, result?: { content: Array<{ text: string }> } } }
      }))
      const wrong = answers.filter((answer, i) =>
        answer.status !== 200 || answer.json.id !== 1 || answer.json.result?.content[0]?.text !== calls[i]?.expected)
      t.equal(wrong.length, 0, `every one of ${answers.length} callers got its own answer (${wrong.length} did not)`)
    })
  }
}
