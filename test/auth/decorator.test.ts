import t from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import fastifyAuth from '@fastify/auth'
import { apiKeyAuth } from '../../plugins/auth/api-key.js'
import { bearerAuth } from '../../plugins/auth/bearer.js'
import { mcpRoutes } from '../../routes/mcp.js'
import { API_KEY, BEARER_TOKEN } from '../helpers/credentials.js'

const keys = [{ id: 'ci', key: API_KEY, permissions: ['calculator:*'] }]
const tokens = [{ id: 'bot', token: BEARER_TOKEN, permissions: ['calculator:add'] }]

async function hostApp (register: (app: FastifyInstance) => Promise<void>): Promise<FastifyInstance> {
  const app = Fastify({ logger: false })
  await register(app)
  await app.ready()
  return app
}

t.test('addHook: false: the strategy guards only the routes that name fastify.mcpAuth.authenticate', async (t) => {
  const app = await hostApp(async (app) => {
    await app.register(async (scope) => {
      await scope.register(apiKeyAuth, { keys, addHook: false })
      scope.get('/guarded', { onRequest: scope.mcpAuth.authenticate }, async (request) => ({ who: request.principal?.id }))
      scope.get('/open', async (request) => ({ who: request.principal?.id ?? null }))
    })
  })
  t.teardown(() => app.close())

  const refused = await app.inject({ url: '/guarded' })
  t.equal(refused.statusCode, 401)
  t.match(refused.headers['www-authenticate'], /^ApiKey realm="mcp", header="x-api-key"$/)
  t.equal(refused.json().code, 'MCP_AUTH_MISSING_CREDENTIALS')
  const wrong = await app.inject({ url: '/guarded', headers: { 'x-api-key': 'wrong-key-0123456789abcdefghijklmnop' } })
  t.equal(wrong.statusCode, 401)
  t.equal(wrong.json().code, 'MCP_AUTH_INVALID_CREDENTIALS')
  const accepted = await app.inject({ url: '/guarded', headers: { 'x-api-key': API_KEY } })
  t.equal(accepted.statusCode, 200)
  t.same(accepted.json(), { who: 'ci' })
  const open = await app.inject({ url: '/open' })
  t.equal(open.statusCode, 200, 'no hook on the scope')
  t.same(open.json(), { who: null })
})

t.test('as a preHandler, the byStrategy handlers work with @fastify/auth (or: the first that accepts wins)', async (t) => {
  const app = await hostApp(async (app) => {
    await app.register(fastifyAuth)
    await app.register(async (scope) => {
      await scope.register(bearerAuth, { tokens, addHook: false })
      await scope.register(apiKeyAuth, { keys, addHook: false })
      t.same(Object.keys(scope.mcpAuth.byStrategy), ['bearer', 'api-key'])
      scope.get('/either', { preHandler: scope.auth([scope.mcpAuth.byStrategy.bearer!, scope.mcpAuth.byStrategy['api-key']!]) },
        async (request) => ({ who: request.principal?.id, strategy: request.principal?.strategy }))
      scope.get('/all', { onRequest: scope.mcpAuth.authenticate }, async (request) => ({ who: request.principal?.id }))
    })
  })
  t.teardown(() => app.close())

  const byToken = await app.inject({ url: '/either', headers: { authorization: `Bearer ${BEARER_TOKEN}` } })
  t.equal(byToken.statusCode, 200)
  t.same(byToken.json(), { who: 'bot', strategy: 'bearer' })
  const byKey = await app.inject({ url: '/either', headers: { 'x-api-key': API_KEY } })
  t.equal(byKey.statusCode, 200, 'the bearer refusal does not stick')
  t.same(byKey.json(), { who: 'ci', strategy: 'api-key' })
  t.notOk(byKey.headers['www-authenticate'], 'an accepted request carries no challenge')
  const neither = await app.inject({ url: '/either' })
  t.equal(neither.statusCode, 401)

  const all = await app.inject({ url: '/all' })
  t.equal(all.statusCode, 401, 'authenticate tries every strategy of the scope')
  t.same(all.headers['www-authenticate'], ['Bearer realm="mcp"', 'ApiKey realm="mcp", header="x-api-key"'])
  t.same((await app.inject({ url: '/all', headers: { 'x-api-key': API_KEY } })).json(), { who: 'ci' })
})

t.test('a child scope adds to its parent\'s fastify.mcpAuth without changing it', async (t) => {
  let parentStrategies: string[] = []
  let childStrategies: string[] = []
  const app = await hostApp(async (app) => {
    await app.register(async (scope) => {
      await scope.register(apiKeyAuth, { keys, addHook: false })
      await scope.register(async (child) => {
        await child.register(bearerAuth, { tokens, addHook: false })
        childStrategies = Object.keys(child.mcpAuth.byStrategy)
      })
      parentStrategies = Object.keys(scope.mcpAuth.byStrategy)
    })
  })
  t.teardown(() => app.close())
  t.same(parentStrategies, ['api-key'])
  t.same(childStrategies, ['api-key', 'bearer'])
})

t.test('the MCP routes in a scope whose strategy adds no hook fail closed', async (t) => {
  const app = await hostApp(async (app) => {
    await app.register(async (scope) => {
      await scope.register(apiKeyAuth, { keys, addHook: false })
      await scope.register(mcpRoutes)
    })
  })
  t.teardown(() => app.close())
  const response = await app.inject({
    method: 'POST',
    url: '/mcp',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', host: '127.0.0.1', 'x-api-key': API_KEY },
    payload: { jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }
  })
  t.equal(response.statusCode, 401, 'no principal: refused, never served')
})
