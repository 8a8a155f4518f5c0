import { timingSafeEqual } from 'node:crypto'
import Fastify from 'fastify'

/**
 * The limit the benchmark compares against: a bare Fastify route that parses the same
 * `tools/call add` JSON-RPC body, checks an x-api-key in constant time and answers with the
 * SDK's result shape. No MCP, no auth plugin: what the framework alone costs.
 */
const key = Buffer.from(process.env.LIMIT_API_KEY ?? '')
const app = Fastify({ logger: false })

interface AddCall { id: number | string, params: { arguments: { a: number, b: number } } }

app.post('/mcp', async (request, reply) => {
  const presented = Buffer.from(String(request.headers['x-api-key'] ?? ''))
  if (presented.length !== key.length || !timingSafeEqual(presented, key)) return reply.code(401).send({ error: 'unauthorized' })
  const body = request.body as AddCall
  const result = body.params.arguments.a + body.params.arguments.b
  return { result: { content: [{ type: 'text', text: String(result) }], structuredContent: { result } }, jsonrpc: '2.0', id: body.id }
})

await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) })
const address = app.server.address()
process.stdout.write(`listening ${typeof address === 'object' && address !== null ? address.port : ''}\n`)

for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => { void app.close().then(() => process.exit(0)) })
