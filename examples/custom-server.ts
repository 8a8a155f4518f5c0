// Any MCP server, not just the calculator: createServer builds it (once per principal and protocol
// era; in stateful mode, once per session for 2025-era clients); tools see the principal in
// ctx.http.authInfo. Listing DUAL_ERA_PROTOCOL_VERSIONS lets 2026-07-28 clients in too.
import Fastify from 'fastify'
import { McpServer } from '@modelcontextprotocol/server'
import { z } from 'zod'
import { DUAL_ERA_PROTOCOL_VERSIONS, jwtAuth, mcpRoutes } from 'fastify-mcp-auth'

function createNotesServer (): McpServer {
  const notes: string[] = []
  const server = new McpServer({ name: 'notes', version: '1.0.0' }, { supportedProtocolVersions: [...DUAL_ERA_PROTOCOL_VERSIONS] })
  server.registerTool('add-note', { description: 'Keeps a note', inputSchema: z.object({ text: z.string().max(500) }) }, async ({ text }, ctx) => {
    notes.push(`${ctx.http?.authInfo?.clientId ?? 'someone'}: ${text}`)
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
