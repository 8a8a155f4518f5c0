// HTTP Basic against scrypt hashes (from `fastify-mcp-auth hash-password`); stateful sessions.
import Fastify from 'fastify'
import { basicAuth, mcpRoutes } from 'fastify-mcp-auth'

const app = Fastify({ logger: true })
await app.register(async (mcp) => {
  await mcp.register(basicAuth, {
    realm: 'calculator',
    users: [{ username: 'alice', passwordHash: process.env.ALICE_PASSWORD_HASH ?? '', permissions: ['calculator:add', 'calculator:whoami'] }],
    cacheTtl: 60_000 // a verified password is remembered for a minute: one scrypt run, not one per request
  })
  await mcp.register(mcpRoutes, { path: '/mcp', sessions: 'stateful' })
})
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 3000) })
