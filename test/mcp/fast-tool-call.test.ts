import t from 'tap'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { ErrorCode, McpError, type JSONRPCMessage, type JSONRPCRequest } from '@modelcontextprotocol/sdk/types.js'
import { z } from 'zod'
import { registerCalculatorTools } from '../../mcp/calculator.js'
import { FastToolCaller } from '../../mcp/fast-tool-call.js'
import { HttpMultiplexTransport } from '../../mcp/transport.js'

/** The calculator plus tools that exercise every branch of a tools/call. */
function buildServer (): McpServer {
  const server = new McpServer({ name: 'differential', version: '0' })
  registerCalculatorTools(server)
  server.registerTool('throws', { inputSchema: { x: z.number() } }, async () => { throw new Error('boom') })
  server.registerTool('throws-string', { inputSchema: {} }, async () => { throw 'a bare string' }) // eslint-disable-line no-throw-literal
  server.registerTool('bad-output', { inputSchema: {}, outputSchema: { n: z.number() } }, async () => ({ content: [], structuredContent: { n: 'x' } }))
  server.registerTool('no-structured', { inputSchema: {}, outputSchema: { n: z.number() } }, async () => ({ content: [{ type: 'text', text: 'n' }] }))
  server.registerTool('error-result', { inputSchema: {}, outputSchema: { n: z.number() } }, async () => ({ content: [{ type: 'text', text: 'failed' }], isError: true }))
  server.registerTool('bad-result', { inputSchema: {} }, async () => ({ content: 'not a list' } as never))
  server.registerTool('elicit', { inputSchema: {} }, async () => { throw new McpError(ErrorCode.UrlElicitationRequired, 'go there', { elicitations: [] }) })
  server.registerTool('no-input-schema', { description: 'takes no input schema' }, async () => ({ content: [{ type: 'text', text: 'ok' }] }))
  server.registerTool('refined', { inputSchema: { s: z.string().refine(async (v) => v.length > 2, 'too short') } }, async ({ s }) => ({ content: [{ type: 'text', text: s }] }))
  server.registerTool('who', { inputSchema: {} }, async (_args, extra) => ({
    content: [{ type: 'text', text: JSON.stringify({ clientId: extra.authInfo?.clientId, requestIdType: typeof extra.requestId, aborted: extra.signal.aborted, canNotify: typeof extra.sendNotification }) }]
  }))
  server.registerTool('disabled', { inputSchema: {} }, async () => ({ content: [] })).disable()
  server.registerTool('removed', { inputSchema: {} }, async () => ({ content: [] })).remove()
  return server
}

async function connected (fast: boolean): Promise<HttpMultiplexTransport> {
  const server = buildServer()
  const transport = new HttpMultiplexTransport()
  await server.connect(transport)
  if (fast) transport.setFastPath(new FastToolCaller(server))
  return transport
}

const extra = { authInfo: { token: '', clientId: 'tester', scopes: ['*'] }, requestInfo: { headers: {} } }
const call = (name: string, args?: unknown, more: Record<string, unknown> = {}): JSONRPCRequest =>
  ({ jsonrpc: '2.0', id: 'same-id', method: 'tools/call', params: { name, ...(args === undefined ? {} : { arguments: args }), ...more } })

const cases: Array<[string, JSONRPCRequest]> = [
  ['a result', call('add', { a: 2, b: 3 })],
  ['a tool error', call('divide', { a: 1, b: 0 })],
  ['a non-finite result', call('power', { a: 10, b: 400 })],
  ['invalid arguments', call('add', { a: 'two', b: 3 })],
  ['missing arguments', call('add')],
  ['extra arguments are stripped', call('add', { a: 1, b: 2, c: 3 })],
  ['an unknown tool', call('nope', {})],
  ['a handler that throws', call('throws', { x: 1 })],
  ['a handler that throws a string', call('throws-string', {})],
  ['output that fails its schema', call('bad-output', {})],
  ['no structured content', call('no-structured', {})],
  ['an error result skips the output schema', call('error-result', {})],
  ['a result of the wrong shape', call('bad-result', {})],
  ['URL elicitation required', call('elicit', {})],
  ['a tool without an input schema', call('no-input-schema', {})],
  ['an async refinement', call('refined', { s: 'abc' })],
  ['an async refinement that fails', call('refined', { s: 'a' })],
  ['a disabled tool', call('disabled', {})],
  ['a removed tool', call('removed', {})],
  ['what the handler receives', call('who', {})],
  ['with _meta', call('add', { a: 1, b: 1 }, { _meta: { progressToken: 7 } })],
  ['params that are not an object', { jsonrpc: '2.0', id: 'same-id', method: 'tools/call', params: { name: 7 } } as unknown as JSONRPCRequest]
]

t.test('the fast path answers exactly as the SDK does', async (t) => {
  const fast = await connected(true)
  const sdk = await connected(false)
  for (const [name, request] of cases) {
    const [viaFast] = await fast.dispatch([request], extra)
    const [viaSdk] = await sdk.dispatch([request], extra)
    t.same(viaFast, viaSdk, name)
    t.equal((viaFast as JSONRPCMessage & { id: unknown }).id, 'same-id', `${name}: the caller's id comes back`)
  }
})

t.test('the fast path takes the calls it should, and hands the others to the SDK', async (t) => {
  const server = buildServer()
  const caller = new FastToolCaller(server)
  const context = { requestId: 1, sessionId: undefined, extra, signal: () => new AbortController().signal }
  const taken = ['a result', 'a tool error', 'a handler that throws', 'output that fails its schema', 'what the handler receives']
  const handedOver = ['invalid arguments', 'an unknown tool', 'a disabled tool', 'a removed tool', 'with _meta', 'an async refinement', 'a tool without an input schema', 'params that are not an object']
  for (const [name, request] of cases) {
    const response = caller.tryCall(request, context)
    if (taken.includes(name)) t.ok(response, `${name}: fast`)
    if (handedOver.includes(name)) t.equal(response, undefined, `${name}: SDK`)
    await response
  }
  t.equal(caller.tryCall({ jsonrpc: '2.0', id: 1, method: 'tools/list' }, context), undefined, 'other methods go to the SDK')
})
