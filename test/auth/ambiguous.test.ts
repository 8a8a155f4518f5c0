import t from 'tap'
import { request as httpRequest } from 'node:http'
import { addCall } from '../helpers/client.js'
import { API_KEY, BEARER_TOKEN, strategyFixtures } from '../helpers/credentials.js'
import { listen, testConfig } from '../helpers/server.js'

// Two credentials where one is expected: the server will not guess which was meant (Node keeps
// the first of two Authorization headers and joins repeated custom ones).
async function rawPost (url: URL, headers: Array<[string, string]>): Promise<{ status: number | undefined, body: string }> {
  return await new Promise((resolve, reject) => {
    const body = JSON.stringify(addCall)
    // Raw header pairs, so a name can repeat; with them Node adds neither Host nor a length.
    const raw = [['host', url.host], ['content-type', 'application/json'], ['accept', 'application/json'], ['content-length', String(Buffer.byteLength(body))], ...headers].flat()
    const req = httpRequest(url, { method: 'POST', headers: raw }, (res) => {
      let text = ''
      res.on('data', (chunk: Buffer) => { text += chunk.toString() })
      res.on('end', () => resolve({ status: res.statusCode, body: text }))
    })
    req.on('error', reject)
    req.end(body)
  })
}

t.test('a repeated credential header is a 400, for every strategy, before any check', async (t) => {
  for (const fixture of strategyFixtures) {
    const server = await listen(testConfig({ auth: await fixture.auth(), rateLimit: { failedAuth: { max: 1, timeWindow: '1m' } } }))
    t.teardown(server.close)
    const [name, value] = Object.entries(fixture.headers())[0] as [string, string]
    for (const second of [value, 'something else']) {
      const answer = await rawPost(server.url, [[name, value], [name.toUpperCase(), second]])
      t.equal(answer.status, 400, `${fixture.name}: ${name} twice`)
      t.match(JSON.parse(answer.body), { statusCode: 400, code: 'MCP_AUTH_AMBIGUOUS_CREDENTIALS', message: `ambiguous credentials: the ${name} header was sent more than once` })
    }
    const once = await rawPost(server.url, [[name, value]])
    t.equal(once.status, 200, `${fixture.name}: once is fine, and the refusals were not counted as failed logins`)
    t.match(server.logs.records().find((r) => r.event === 'auth' && r.reason === 'ambiguous_credentials'), { outcome: 'failure' }, 'audited')
  }
})

t.test('two different credential headers (a key and a token) are not ambiguous', async (t) => {
  const server = await listen(testConfig({
    auth: { strategy: ['bearer', 'api-key'], bearer: { tokens: [{ id: 't', token: BEARER_TOKEN, permissions: ['*'] }] }, apiKey: { keys: [{ id: 'k', key: API_KEY, permissions: ['*'] }] } }
  }))
  t.teardown(server.close)
  t.equal((await rawPost(server.url, [['authorization', `Bearer ${BEARER_TOKEN}`], ['x-api-key', API_KEY]])).status, 200)
})
