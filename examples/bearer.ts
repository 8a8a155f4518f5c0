// Static bearer tokens (Authorization: Bearer <token>), two live at once during a rotation.
import Fastify from 'fastify'
import { bearerAuth, mcpRoutes } from 'fastify-mcp-auth'

const app = Fastify({ logger: true })
await app.register(async (mcp) => {
  await mcp.register(bearerAuth, {
    tokens: [
      { id: 'ci-bot', token: process.env.MCP_BEARER_TOKEN ?? '', permissions: ['calculator:*'] },
      // The previous token, kept only as its SHA-256 until every client has moved on.
      { id: 'ci-bot-old', sha256: process.env.MCP_OLD_TOKEN_SHA256 ?? '0'.repeat(64), permissions: ['calculator:*'] }
    ]
  })
  await mcp.register(mcpRoutes, { path: '/mcp' })
})
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 3000) })
