// Any MCP server, not just the calculator: createServer builds it (once per principal in
// stateless mode, once per session in stateful mode); tools see the principal in extra.authInfo.
import Fastify from 'fastify'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { z } from 'zod'
import { jwtAuth, mcpRoutes } from 'fastify-mcp-auth'

function createNotesServer (): McpServer {
  const notes: string[] = []
  const server = new McpServer({ name: 'notes', version: '1.0.0' })
  server.registerTool('add-note', { description: 'Keeps a note', inputSchema: { text: z.string().max(500) } }, async ({ text }, extra) => {
    notes.push(`${extra.authInfo?.clientId ?? 'someone'}: ${text}`)
    return { content: [{ type: 'text', text: `${notes.length} notes` }] }
  })
  return server
}

const app = Fastify({ logger: true })
await app.register(async (mcp) => {
  await mcp.register(jwtAuth, { secret: process.env.JWT_SECRET ?? '', issuer: 'https://notes.example.com' })
  // Permissions are notes:<tool> here (notes:add-note), or notes:* for all of them.
  await mcp.register(mcpRoutes, { path: '/mcp', createServer: createNotesServer, permissionPrefix: 'notes' })
})
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 3000) })
