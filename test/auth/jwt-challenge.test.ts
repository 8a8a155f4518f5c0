import t, { type Test } from 'tap'
import Fastify, { type FastifyRequest } from 'fastify'
import { jwtAuth, type JwtPluginOptions } from '../../plugins/auth/jwt.js'
import { JWT_SECRET } from '../helpers/credentials.js'

async function app (t: Test, deployment: JwtPluginOptions['deployment']) {
  const fastify = Fastify()
  t.teardown(async () => { await fastify.close() })
  await fastify.register(async (scope) => {
    await scope.register(jwtAuth, { secret: JWT_SECRET, deployment })
    scope.post('/mcp', async () => ({}))
  })
  return async (headers: Record<string, string> = {}) => (await fastify.inject({ method: 'POST', url: '/mcp', headers, payload: {} })).headers['www-authenticate']
}

/** Like the complete server's function (config/deployment.ts): the named tool's permission, else a default set. */
const scopesFor = (request: FastifyRequest) => {
  const name = request.headers['mcp-name']
  if (request.headers['mcp-method'] === 'tools/call' && typeof name === 'string') return [`calculator:${name}`]
  return request.headers['x-none'] === undefined ? ['calculator:*'] : []
}

t.test('the challenge names the scopes the request needs, from a function of the request', async (t) => {
  const challenge = await app(t, { resourceMetadataUrl: () => 'https://calc.test/.well-known/oauth-protected-resource/mcp', challengeScopes: scopesFor })
  t.equal(await challenge({ 'mcp-method': 'tools/call', 'mcp-name': 'add' }),
    'Bearer realm="mcp", resource_metadata="https://calc.test/.well-known/oauth-protected-resource/mcp", scope="calculator:add"')
  t.equal(await challenge({ 'mcp-method': 'tools/call', 'mcp-name': 'sqrt', authorization: 'Bearer not-a-token' }),
    'Bearer realm="mcp", error="invalid_token", resource_metadata="https://calc.test/.well-known/oauth-protected-resource/mcp", scope="calculator:sqrt"')
  t.equal(await challenge(), 'Bearer realm="mcp", resource_metadata="https://calc.test/.well-known/oauth-protected-resource/mcp", scope="calculator:*"')
  t.equal(await challenge({ 'x-none': '1' }), 'Bearer realm="mcp", resource_metadata="https://calc.test/.well-known/oauth-protected-resource/mcp"', 'an empty list: no scope=')
})

t.test('without a scope function, or with one naming none, the challenge has no scope', async (t) => {
  t.equal(await (await app(t, { challengeScopes: () => [] }))(), 'Bearer realm="mcp"')
  t.equal(await (await app(t, {}))(), 'Bearer realm="mcp"')
})

t.test('a scope function that throws costs the challenge its scope, not the request a 500', async (t) => {
  const challenge = await app(t, { challengeScopes: () => { throw new Error('boom') } })
  t.equal(await challenge({ authorization: 'Bearer x.y.z' }), 'Bearer realm="mcp", error="invalid_token"')
})
