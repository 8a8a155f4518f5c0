// The calculator behind API keys, inside your own Fastify app.
import Fastify from 'fastify'
import { apiKeyAuth, mcpRoutes } from 'fastify-mcp-auth'

const app = Fastify({ logger: true })
app.get('/', async () => ({ hello: 'world' })) // your routes stay as they are

await app.register(async (mcp) => {
  // Auth applies to this scope only: the strategy, then the MCP routes it protects.
  await mcp.register(apiKeyAuth, {
    header: 'x-api-key',
    keys: [{ id: 'ci-bot', key: process.env.CALCULATOR_API_KEY ?? '', permissions: ['calculator:*'] }]
  })
  await mcp.register(mcpRoutes, { path: '/mcp' })
}, { prefix: '/tools' }) // served at /tools/mcp

await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 3000) })
