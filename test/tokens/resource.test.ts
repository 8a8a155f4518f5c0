import { request as httpRequest } from 'node:http'
import t, { type Test } from 'tap'
import { addCall, post } from '../helpers/client.js'
import { ADMIN, ISSUER, REPORTING, basic, claimsOf, issuingConfig, oauthPost, refresh, tokens, type IssuingOptions } from '../helpers/issuing.js'
import { listen, type TestServer } from '../helpers/server.js'

// RFC 8707 resource indicators at the token endpoint.

async function server (t: Test, options: IssuingOptions): Promise<TestServer> {
  const running = await listen(issuingConfig(undefined, options))
  t.teardown(running.close)
  return running
}

const form = (...pairs: Array<[string, string]>) => new URLSearchParams(pairs)
const ask = async (running: TestServer, body: URLSearchParams, client = REPORTING) =>
  await oauthPost(running.url.origin, '/oauth/token', body, { authorization: basic(client) })
const mcpStatus = async (running: TestServer, access: unknown) => (await post(running.url, addCall, { authorization: `Bearer ${String(access)}` })).status

t.test('audience configured as the MCP URL (the usual setup)', async (t) => {
  const running = await server(t, {})
  const resource = `${ISSUER}/mcp`
  const metadata = await (await fetch(new URL('/.well-known/oauth-protected-resource/mcp', running.url.origin))).json() as { resource: string }
  t.equal(metadata.resource, resource, 'the resource the metadata names...')
  const answer = await ask(running, form(['grant_type', 'client_credentials'], ['resource', metadata.resource]))
  t.equal(answer.status, 200, '...is accepted')
  t.equal(claimsOf(answer.body.access_token).aud, resource, 'and is the token\'s aud')
  t.equal(await mcpStatus(running, answer.body.access_token), 200)

  const none = await ask(running, form(['grant_type', 'client_credentials']))
  t.equal(claimsOf(none.body.access_token).aud, resource, 'without resource: the configured audience, as before')
  const empty = await ask(running, form(['grant_type', 'client_credentials'], ['resource', '']))
  t.equal(empty.status, 200, 'an empty resource is no resource (RFC 6749 §3.1)')

  const variants: Array<[string, string]> = [['another scheme and host case', 'HTTPS://CALC.TEST/mcp'], ['the default port', 'https://calc.test:443/mcp']]
  for (const [name, value] of variants) {
    const normalized = await ask(running, form(['grant_type', 'client_credentials'], ['resource', value]))
    t.equal(claimsOf(normalized.body.access_token).aud, resource, `${name}: the same resource`)
  }
  const twice = await ask(running, form(['grant_type', 'client_credentials'], ['resource', resource], ['resource', resource]))
  t.equal(twice.status, 200, 'the same resource twice: one resource')
  const json = await fetch(new URL('/oauth/token', running.url.origin), {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: basic(REPORTING) },
    body: JSON.stringify({ grant_type: 'client_credentials', resource: [resource] })
  })
  t.equal(claimsOf((await json.json() as Record<string, unknown>).access_token).aud, resource, 'resource as a JSON array')

  const refreshed = await refresh(running.url.origin, (await tokens(running.url.origin)).refresh, REPORTING, { resource })
  t.equal(claimsOf(refreshed.body.access_token).aud, resource, 'on refresh too')

  const pair = await tokens(running.url.origin)

  const refused: Array<[string, string[]]> = [
    ['another server', ['https://elsewhere.test/mcp']],
    ['another path', [`${ISSUER}/other`]],
    ['a trailing slash', [`${ISSUER}/mcp/`]],
    ['the origin alone', [ISSUER]],
    ['a query', [`${ISSUER}/mcp?x=1`]],
    ['ours and another', [resource, 'https://elsewhere.test/mcp']],
    ['a relative reference', ['/mcp']],
    ['not a URI', ['calc api']],
    ['a fragment', [`${resource}#x`]],
    ['an empty fragment', [`${resource}#`]]
  ]
  for (const [name, resources] of refused) {
    for (const grant of ['client_credentials', 'refresh_token']) {
      const answer = await ask(running, form(['grant_type', grant], ['refresh_token', pair.refresh], ...resources.map((value): [string, string] => ['resource', value])))
      t.same([answer.status, answer.body.error], [400, 'invalid_target'], `${name} (${grant}): invalid_target`)
      t.type(answer.body.error_description, 'string')
    }
  }
  t.equal((await refresh(running.url.origin, pair.refresh)).status, 200, 'none of the refused refreshes used the token up')
})

t.test('no audience configured, a public URL: the resource becomes the aud', async (t) => {
  const running = await server(t, { audience: null })
  const answer = await ask(running, form(['grant_type', 'client_credentials'], ['resource', `${ISSUER}/mcp`]))
  t.equal(claimsOf(answer.body.access_token).aud, `${ISSUER}/mcp`)
  t.equal(await mcpStatus(running, answer.body.access_token), 200)
  const none = await ask(running, form(['grant_type', 'client_credentials']))
  t.equal(claimsOf(none.body.access_token).aud, undefined, 'without resource: no aud, as before')
})

t.test('an audience that is not the MCP URL: the resource is accepted, the aud stays what the verifier expects', async (t) => {
  const running = await server(t, { audience: 'calc-api' })
  const answer = await ask(running, form(['grant_type', 'client_credentials'], ['resource', `${ISSUER}/mcp`]))
  t.equal(claimsOf(answer.body.access_token).aud, 'calc-api')
  t.equal(await mcpStatus(running, answer.body.access_token), 200)
  t.equal((await ask(running, form(['grant_type', 'client_credentials'], ['resource', 'calc-api']))).body.error, 'invalid_target', 'resource is a URI, not a name')
})

t.test('several configured audiences: a resource picks one', async (t) => {
  const running = await server(t, { audience: [`${ISSUER}/mcp`, 'https://api.calc.test/'] })
  const other = await ask(running, form(['grant_type', 'client_credentials'], ['resource', 'https://api.calc.test']), ADMIN)
  t.equal(claimsOf(other.body.access_token).aud, 'https://api.calc.test/', 'a configured audience, as configured')
  t.equal(await mcpStatus(running, other.body.access_token), 200)
  const ours = await ask(running, form(['grant_type', 'client_credentials'], ['resource', `${ISSUER}/mcp`]))
  t.equal(claimsOf(ours.body.access_token).aud, `${ISSUER}/mcp`, 'one aud, not the whole list')
  t.same(claimsOf((await ask(running, form(['grant_type', 'client_credentials']))).body.access_token).aud, [`${ISSUER}/mcp`, 'https://api.calc.test/'], 'no resource: the list, as before')
  t.equal((await ask(running, form(['grant_type', 'client_credentials'], ['resource', `${ISSUER}/mcp`], ['resource', 'https://api.calc.test/']))).body.error, 'invalid_target', 'one resource per token')
})

t.test('no public URL and no audience: the resource of the request\'s host, never an aud from a Host header', async (t) => {
  const running = await server(t, { audience: null, publicUrl: null })
  const resource = new URL('/mcp', running.url.origin).href
  const answer = await ask(running, form(['grant_type', 'client_credentials'], ['resource', resource]))
  t.equal(answer.status, 200, 'the resource its metadata names for this host')
  t.equal(claimsOf(answer.body.access_token).aud, undefined, 'no aud: it would come from the Host header')
  t.equal((await ask(running, form(['grant_type', 'client_credentials'], ['resource', 'http://elsewhere.test/mcp']))).body.error, 'invalid_target')

  const forged = await new Promise<{ status: number, body: string }>((resolve, reject) => {
    const body = form(['grant_type', 'client_credentials'], ['resource', 'http://elsewhere.test/mcp']).toString()
    const request = httpRequest(new URL('/oauth/token', running.url.origin), {
      method: 'POST',
      headers: { host: 'elsewhere.test', 'content-type': 'application/x-www-form-urlencoded', authorization: basic(REPORTING), 'content-length': Buffer.byteLength(body) }
    }, (response) => {
      const chunks: Buffer[] = []
      response.on('data', (chunk: Buffer) => chunks.push(chunk))
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString() }))
    })
    request.on('error', reject)
    request.end(body)
  })
  // The Host check in front of the endpoint may refuse it first (403); if it lets it through, the aud still does not come from it.
  if (forged.status === 200) t.equal(claimsOf((JSON.parse(forged.body) as Record<string, unknown>).access_token).aud, undefined, 'a forged Host header never becomes the aud')
  else t.equal(forged.status, 403, 'a forged Host header is refused')
})
