import t from 'tap'
import { API_KEY } from '../helpers/credentials.js'
import { callTool, connect, post, addCall, textOf, CLIENT_GENERATIONS } from '../helpers/client.js'
import { listen, testConfig } from '../helpers/server.js'

// API keys in the headers clients can actually send: Claude's connectors allow `x-api-key` or
// `x-auth-token`, some clients only `Authorization: Bearer`.

const OTHER_KEY = 'other-key-0123456789abcdefghijklmnopq'

function headersConfig (apiKey: Record<string, unknown>) {
  return testConfig({
    auth: { strategy: 'api-key', apiKey: { keys: [{ id: 'connector', key: API_KEY, permissions: ['calculator:*'] }], ...apiKey } }
  })
}

t.test('a list of header names: the key works under each, with real clients of both eras', async (t) => {
  const server = await listen(headersConfig({ header: ['x-api-key', 'X-Auth-Token'] }))
  t.teardown(server.close)
  for (const header of ['x-api-key', 'x-auth-token']) {
    for (const generation of CLIENT_GENERATIONS) {
      const { client, close } = await connect(server.url, { [header]: API_KEY }, generation)
      t.equal(textOf(await callTool(client, 'add', { a: 5, b: 3 })), '8', `${header}, ${generation} client`)
      await close()
    }
  }
  const refused = await post(server.url, addCall, { 'x-auth-token': OTHER_KEY })
  t.equal(refused.status, 401)
  t.equal(refused.headers.get('www-authenticate'), 'ApiKey realm="mcp", header="x-api-key"', 'the challenge names the first header')
  t.equal((await post(server.url, addCall, { 'x-auth-token': API_KEY, 'x-api-key': OTHER_KEY })).status, 401, 'the first configured header sent decides')
  t.equal((await post(server.url, addCall, { authorization: `Bearer ${API_KEY}` })).status, 401, 'Authorization is not read without acceptBearer')
  t.notOk(server.logs.text.includes(API_KEY) || server.logs.text.includes(OTHER_KEY), 'no key in any log line, whichever header carried it')
})

t.test('acceptBearer: the key as Authorization: Bearer, and the challenge still sends nobody to OAuth', async (t) => {
  const server = await listen(headersConfig({ acceptBearer: true }))
  t.teardown(server.close)
  for (const generation of CLIENT_GENERATIONS) {
    const { client, close } = await connect(server.url, { authorization: `Bearer ${API_KEY}` }, generation)
    t.match((await callTool(client, 'whoami', {})).structuredContent, { id: 'connector', strategy: 'api-key' }, `${generation} client`)
    await close()
  }
  t.equal((await post(server.url, addCall, { authorization: `bearer ${API_KEY}` })).status, 200, 'the scheme is case-insensitive')
  t.equal((await post(server.url, addCall, { 'x-api-key': API_KEY })).status, 200, 'the header keeps working')
  for (const authorization of [`Bearer ${OTHER_KEY}`, `Basic ${Buffer.from('a:b').toString('base64')}`, 'Bearer']) {
    const refused = await post(server.url, addCall, { authorization })
    t.equal(refused.status, 401, authorization.split(' ')[0] ?? '')
    t.equal(refused.headers.get('www-authenticate'), 'ApiKey realm="mcp", header="x-api-key"', 'no Bearer challenge, no resource_metadata')
  }
  const missing = await post(server.url, addCall)
  t.equal((await missing.json() as { code: string }).code, 'MCP_AUTH_MISSING_CREDENTIALS')
  t.equal((await fetch(new URL('/.well-known/oauth-protected-resource/mcp', server.url))).status, 404, 'no protected resource metadata to discover')
  t.notOk(server.logs.text.includes(API_KEY) || server.logs.text.includes(OTHER_KEY), 'no key in any log line')
})

t.test('Authorization is not a header name for the key: it is acceptBearer', async (t) => {
  t.throws(() => headersConfig({ header: ['x-api-key', 'Authorization'] }), { message: /auth\.apiKey\.header\[1\]: the key in Authorization is acceptBearer: true/ })
})
