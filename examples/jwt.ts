// JWTs from an identity provider's JWKS, checked for issuer and audience; RFC 9728 challenges.
import Fastify from 'fastify'
import { jwtAuth, mcpRoutes } from 'fastify-mcp-auth'

const issuer = process.env.OIDC_ISSUER ?? 'https://auth.example.com'
const resource = 'https://calc.example.com/mcp'
const metadataUrl = 'https://calc.example.com/.well-known/oauth-protected-resource/mcp'

const app = Fastify({ logger: true })
await app.register(async (mcp) => {
  await mcp.register(jwtAuth, {
    algorithms: ['RS256'],
    jwksUrl: process.env.OIDC_JWKS_URL ?? `${issuer}/jwks`,
    issuer,
    audience: resource,
    deployment: { resourceMetadataUrl: () => metadataUrl, challengeScopes: () => ['calculator:add'] }
  })
  await mcp.register(mcpRoutes, { path: '/mcp', resourceMetadataUrl: () => metadataUrl })
})
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 3000) })
