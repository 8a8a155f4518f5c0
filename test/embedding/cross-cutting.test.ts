import t from 'tap'
import { Writable } from 'node:stream'
import Fastify from 'fastify'
import { apiKeyAuth } from '../../plugins/auth/api-key.js'
import { configuredAuth } from '../../plugins/auth/configured.js'
import { createTokenSigning } from '../../plugins/auth/jwt-signer.js'
import { auditLog } from '../../plugins/audit-log.js'
import { metrics } from '../../plugins/metrics.js'
import { rateLimits } from '../../plugins/rate-limits.js'
import { tokenIssuer } from '../../plugins/token-issuer/plugin.js'
import { hashPassword } from '../../plugins/credentials/password-hash.js'
import { API_KEY, FAST_SCRYPT, JWT_SECRET } from '../helpers/credentials.js'

// The cross-cutting pieces as a host app meets them: fastify-plugins, options checked at
// register time, their state on typed decorators of the scope they are registered in.

t.test('options are validated when the plugin is registered, naming the option', async (t) => {
  const cases = [
    { plugin: rateLimits, options: { max: -1 }, message: /rate-limits: invalid option max/ },
    { plugin: rateLimits, options: { failedAuth: { max: 5 } }, message: /failedAuth/ },
    { plugin: auditLog, options: { enabled: 'yes' }, message: /audit-log: invalid option enabled/ },
    { plugin: tokenIssuer, options: { issue: { clients: [] }, signing: createTokenSigning({ secret: JWT_SECRET, issuer: 'https://calc.test' }) }, message: /token-issuer: invalid option issue.clients/ }
  ] as const
  for (const { plugin, options, message } of cases) {
    const app = Fastify({ logger: false })
    // @ts-expect-error deliberately wrong options
    await t.rejects(app.register(plugin, options).ready(), { code: 'MCP_AUTH_INVALID_OPTION', message }, String(message))
    await app.close()
  }
})

t.test('rate limits in a host app: the per-principal limit counts only authenticated requests, whatever the registration order', async (t) => {
  const app = Fastify({ logger: false })
  await app.register(async (scope) => {
    // Registered before the strategy: the limits are a preHandler hook, so authentication still comes first.
    await scope.register(rateLimits, { max: 2, timeWindow: 60_000, failedAuth: false })
    await scope.register(apiKeyAuth, { keys: [{ id: 'ci', key: API_KEY, permissions: ['*'] }] })
    scope.get('/work', async (request) => ({ who: request.principal?.id }))
  })
  t.teardown(() => app.close())
  t.equal(app.hasDecorator('mcpAuthLimits'), false, 'the decorator stays in the scope')
  for (let i = 0; i < 3; i++) t.equal((await app.inject({ url: '/work' })).statusCode, 401, 'unauthenticated requests spend nothing')
  const statuses = []
  for (let i = 0; i < 3; i++) statuses.push((await app.inject({ url: '/work', headers: { 'x-api-key': API_KEY } })).statusCode)
  t.same(statuses, [200, 200, 429])
})

t.test('the audit log and metrics: every auth attempt reaches both', async (t) => {
  const lines: Array<Record<string, unknown>> = []
  const stream = new Writable({ write (chunk: Buffer, _encoding, done) { lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>); done() } })
  const app = Fastify({ logger: false })
  await app.register(metrics)
  await app.register(auditLog, { stream, alsoTo: [app.mcpAuthMetrics.sink] })
  await app.register(async (scope) => {
    await scope.register(configuredAuth, { auth: { strategy: 'api-key', apiKey: { header: 'x-api-key', realm: 'mcp', keys: [{ id: 'ci', key: API_KEY, permissions: ['*'] }] } }, hook: { audit: app.mcpAuthAudit } })
    scope.get('/audited', async () => ({ ok: true }))
  })
  t.teardown(() => app.close())
  t.equal((await app.inject({ url: '/audited', headers: { 'x-api-key': API_KEY } })).statusCode, 200)
  t.equal((await app.inject({ url: '/audited' })).statusCode, 401)
  t.match(lines, [{ event: 'auth', outcome: 'success', principal: 'ci', strategy: 'api-key' }, { event: 'auth', outcome: 'failure', reason: 'missing_credentials' }])
  const exposition = await app.mcpAuthMetrics.registry.metrics()
  t.match(exposition, /mcp_auth_attempts_total\{strategy="api-key",outcome="success",reason="none"\} 1/)
  t.match(exposition, /mcp_auth_attempts_total\{strategy="api-key",outcome="failure",reason="missing_credentials"\} 1/)
})

t.test('the token issuer decorates its app and closes its store with it', async (t) => {
  const app = Fastify({ logger: false })
  const secretHash = await hashPassword('client secret 0123456789', FAST_SCRYPT)
  await app.register(tokenIssuer, {
    issue: { clients: [{ id: 'reporting', secretHash, permissions: ['calculator:add'] }] },
    signing: createTokenSigning({ secret: JWT_SECRET, issuer: 'https://calc.test' })
  })
  await app.ready()
  const issued = await app.mcpAuthTokenIssuer.service.issue('reporting', ['calculator:add'], {})
  t.equal(issued.token_type, 'Bearer')
  const claims = app.mcpAuthTokenIssuer.signing.verifyOwnToken(issued.access_token)
  t.match(claims, { sub: 'reporting', iss: 'https://calc.test', permissions: ['calculator:add'] })
  t.equal(await app.mcpAuthTokenIssuer.isRevoked(claims ?? {}), false)
  await app.mcpAuthTokenIssuer.service.revoke('reporting', issued.access_token, claims)
  t.equal(await app.mcpAuthTokenIssuer.isRevoked(claims ?? {}), true, 'revocation is visible to the strategies through the decorator')
  await app.close()
})
