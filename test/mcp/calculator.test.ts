import t from 'tap'
import { Client } from '@modelcontextprotocol/client'
import { InMemoryTransport } from '@modelcontextprotocol/server'
import { calculatorTools } from '../../mcp/calculator.js'
import { createCalculatorServer, mountedServer } from '../../mcp/server.js'
import { callTool, textOf } from '../helpers/client.js'

// The tools' arithmetic and error results, through an in-memory pair. HTTP and auth are covered in test/auth/.
const { server } = mountedServer(createCalculatorServer({ principal: { id: 'unit', strategy: 'none', permissions: ['*'] }, era: 'legacy' }))
const client = new Client({ name: 'unit', version: '0' })
const [clientSide, serverSide] = InMemoryTransport.createLinkedPair()
await server.connect(serverSide)
await client.connect(clientSide)
t.teardown(async () => { await client.close(); await server.close() })

t.test('lists the seven tools and whoami, each with a title, description, input and output schema', async (t) => {
  const { tools } = await client.listTools()
  t.same(tools.map((tool) => tool.name).sort(), [...calculatorTools].sort())
  t.equal(tools.length, 8)
  for (const tool of tools) {
    t.ok(tool.title, `${tool.name} has a title`)
    t.ok(tool.description, `${tool.name} has a description`)
    t.equal(tool.inputSchema.type, 'object')
    t.same(tool.outputSchema?.required, tool.name === 'whoami' ? ['id', 'strategy', 'permissions'] : ['result'], `${tool.name} declares its output`)
  }
})

t.test('whoami reports the principal from ctx.http.authInfo, never a credential', async (t) => {
  const result = await callTool(client, 'whoami', {})
  // The in-memory pair carries no authInfo: the tool says so rather than failing.
  t.same(result.structuredContent, { id: 'anonymous', strategy: 'unknown', permissions: [] })
})

const cases: Array<[string, Record<string, number>, number]> = [
  ['add', { a: 5, b: 3 }, 8],
  ['subtract', { a: 5, b: 3 }, 2],
  ['multiply', { a: -4, b: 2.5 }, -10],
  ['divide', { a: 7, b: 2 }, 3.5],
  ['modulo', { a: -7, b: 3 }, -1],
  ['power', { a: 2, b: 10 }, 1024],
  ['sqrt', { x: 81 }, 9]
]
for (const [name, args, expected] of cases) {
  t.test(`${name} ${JSON.stringify(args)} = ${expected}`, async (t) => {
    const result = await callTool(client, name, args)
    t.notOk(result.isError)
    t.equal(textOf(result), String(expected))
    t.same(result.structuredContent, { result: expected })
  })
}

const errors: Array<[string, Record<string, number>, RegExp]> = [
  ['divide', { a: 1, b: 0 }, /^Division by zero/],
  ['modulo', { a: 1, b: 0 }, /^Modulo by zero/],
  ['sqrt', { x: -1 }, /^Square root of a negative number/],
  ['power', { a: 10, b: 400 }, /not a finite number/],
  ['multiply', { a: 1e308, b: 10 }, /not a finite number/],
  ['add', { a: Number.MAX_VALUE, b: Number.MAX_VALUE }, /not a finite number/],
  ['power', { a: -8, b: 1 / 3 }, /not a finite number/]
]
for (const [name, args, message] of errors) {
  t.test(`${name} ${JSON.stringify(args)} is a tool error, not a protocol error`, async (t) => {
    const result = await callTool(client, name, args)
    t.equal(result.isError, true)
    t.match(textOf(result), message)
    t.equal(result.structuredContent, undefined)
  })
}

t.test('arguments of the wrong type get the SDK invalid-params error', async (t) => {
  for (const args of [{ a: '5', b: 3 }, { a: 5 }, { a: null, b: 1 }, {}]) {
    const result = await callTool(client, 'add', args)
    t.equal(result.isError, true, JSON.stringify(args))
    // SDK v2 words its invalid-params error without v1's "MCP error -32602: " prefix.
    t.match(textOf(result), /^Input validation error: Invalid arguments for tool add: /)
  }
})
