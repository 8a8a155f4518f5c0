import t from 'tap'
import { addCall, post } from '../helpers/client.js'
import { JWT_ISSUER, JWT_SECRET, jwtFor, jwtSection } from '../helpers/credentials.js'
import { listen, testConfig } from '../helpers/server.js'
import { parseChallenge } from '../helpers/www-authenticate.js'
import { createTokenSigner } from '../../plugins/auth/jwt-signer.js'

const SCOPES = ['calculator:add', 'calculator:subtract', 'calculator:multiply', 'calculator:divide', 'calculator:modulo', 'calculator:power', 'calculator:sqrt', 'calculator:whoami']

t.test('RFC 9728 protected resource metadata, at both well-known paths, public and CORS-readable', async (t) => {
  const server = await listen(testConfig({
    server: { publicUrl: 'https://calc.example.com' },
    auth: { strategy: 'jwt', jwt: { ...jwtSection, audience: 'https://calc.example.com/mcp', authorizationServers: ['https://auth.example.com'] } },
    mcp: { toolPermissions: { power: 'calculator:advanced' } }
  }))
  t.teardown(server.close)
  for (const path of ['/.well-known/oauth-protected-resource', '/.well-known/oauth-protected-resource/mcp']) {
    const response = await fetch(new URL(path, server.url), { headers: { origin: 'https://inspector.example' } })
    t.equal(response.status, 200, path)
    t.equal(response.headers.get('access-control-allow-origin'), '*')
    t.same(await response.json(), {
      resource: 'https://calc.example.com/mcp',
      authorization_servers: ['https://auth.example.com'],
      scopes_supported: SCOPES.map((scope) => scope === 'calculator:power' ? 'calculator:advanced' : scope),
      bearer_methods_supported: ['header'],
      resource_name: 'fastify-mcp-auth calculator'
    })
  }
  const preflight = await fetch(new URL('/.well-known/oauth-protected-resource/mcp', server.url), { method: 'OPTIONS', headers: { origin: 'https://x.example', 'access-control-request-method': 'GET' } })
  t.equal(preflight.status, 204)
  t.equal(preflight.headers.get('access-control-allow-origin'), '*')
})

t.test('401 challenges point at the metadata: no error without credentials, invalid_token with bad ones', async (t) => {
  const server = await listen(testConfig({ auth: { strategy: 'jwt', jwt: jwtSection } }))
  t.teardown(server.close)
  const metadataUrl = `http://${server.url.host}/.well-known/oauth-protected-resource/mcp`

  const none = parseChallenge((await post(server.url, addCall)).headers.get('www-authenticate'))
  t.same(none, { scheme: 'Bearer', params: { realm: 'mcp', resource_metadata: metadataUrl, scope: SCOPES.join(' ') } })

  const bad = parseChallenge((await post(server.url, addCall, { authorization: 'Bearer not.a.token' })).headers.get('www-authenticate'))
  t.same(bad, { scheme: 'Bearer', params: { realm: 'mcp', error: 'invalid_token', resource_metadata: metadataUrl, scope: SCOPES.join(' ') } })

  const metadata = await fetch(metadataUrl)
  t.match(await metadata.json(), { resource: `http://${server.url.host}/mcp`, authorization_servers: [JWT_ISSUER] }, 'authorization_servers default to [issuer]')

  // A 2026-07-28 request names its tool in headers: the challenge asks for that tool's scope only.
  const named = { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'sqrt' }
  t.equal(parseChallenge((await post(server.url, addCall, named)).headers.get('www-authenticate')).params.scope, 'calculator:sqrt')
  const unknownTool = { ...named, 'mcp-name': 'nope' }
  t.equal(parseChallenge((await post(server.url, addCall, unknownTool)).headers.get('www-authenticate')).params.scope, SCOPES.join(' '), 'an unknown tool: the listed scopes')
})

t.test('without publicUrl and with any Host accepted, no URL is built from the Host header', async (t) => {
  const server = await listen(testConfig({ auth: { strategy: 'jwt', jwt: jwtSection }, mcp: { allowedHosts: ['*'] } }))
  t.teardown(server.close)
  const evil = { host: 'evil.example' }
  const answer = await server.app.inject({ method: 'POST', url: '/mcp', headers: { ...evil, 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, payload: addCall })
  t.equal(answer.statusCode, 401)
  const challenge = parseChallenge(answer.headers['www-authenticate'] as string)
  t.equal(challenge.params.resource_metadata, undefined, 'the challenge names no metadata URL')
  const metadata = await server.app.inject({ method: 'GET', url: '/.well-known/oauth-protected-resource/mcp', headers: evil })
  t.equal(metadata.statusCode, 404)
  t.match(metadata.json(), { code: 'MCP_AUTH_NOT_FOUND', message: /server\.publicUrl/ })
  t.notMatch(metadata.body, /evil/)
})

t.test('no metadata where no authorization server is named', async (t) => {
  for (const auth of [
    { strategy: 'api-key', apiKey: { keys: [{ id: 'k', key: 'metadata-test-key-0123456789abcd', permissions: ['*'] }] } },
    { strategy: 'jwt', jwt: { secret: JWT_SECRET } },
    { strategy: 'jwt', jwt: { secret: JWT_SECRET, issuer: 'fastify-mcp-auth' } }
  ]) {
    const server = await listen(testConfig({ auth }))
    t.equal((await fetch(new URL('/.well-known/oauth-protected-resource', server.url))).status, 404, JSON.stringify(auth.jwt ?? auth.strategy))
    t.notMatch((await post(server.url, addCall)).headers.get('www-authenticate'), /resource_metadata/)
    await server.close()
  }
})

t.test('audience (RFC 8707): only tokens for this resource are accepted', async (t) => {
  const resource = 'https://calc.example.com/mcp'
  const jwt = { secret: JWT_SECRET, issuer: JWT_ISSUER, audience: resource }
  const server = await listen(testConfig({ server: { publicUrl: 'https://calc.example.com' }, auth: { strategy: 'jwt', jwt } }))
  t.teardown(server.close)
  const tokenFor = (aud: string | string[] | undefined) => createTokenSigner({ secret: JWT_SECRET, issuer: JWT_ISSUER, ...(aud === undefined ? {} : { audience: aud }) })({ sub: 'a', permissions: ['*'], ttl: 60_000 }).token
  const status = async (token: string) => (await post(server.url, addCall, { authorization: `Bearer ${token}` })).status
  t.equal(await status(tokenFor(resource)), 200, 'aud = the resource')
  t.equal(await status(tokenFor(['https://other.example/mcp', resource])), 200, 'aud contains the resource')
  t.equal(await status(tokenFor('https://other.example/mcp')), 401, 'aud names another resource')
  t.equal(await status(tokenFor(undefined)), 401, 'no aud')
  t.equal(await status(jwtFor('a', ['*'])), 401, 'a token for the test fixtures audience')
})
