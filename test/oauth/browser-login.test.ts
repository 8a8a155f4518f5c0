import t from 'tap'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { browserTest, logInAndConsent } from '../helpers/browser.js'
import { startMcpRemote, StdioPeer } from '../helpers/mcp-remote.js'
import { startOAuthServer } from '../helpers/oauth-server.js'

// Issue 16, item 6b: real clients against `config/oauth.yaml`. mcp-remote (the pinned
// devDependency) registers itself, opens the authorization URL, and receives the redirect on its
// own loopback callback server; headless Chromium plays the person who signs in and consents.

const USER = 'ada'
const PASSWORD = 'browser-login password ✓'
/** mcp-remote's own callback server (`--host 127.0.0.1`), and where the browser lands on it. */
const REDIRECT_URI = /^http:\/\/127\.0\.0\.1:\d+\/oauth\/callback$/
const CALLBACK = /^http:\/\/127\.0\.0\.1:\d+\/oauth\/callback\?/
/** mcp-remote's dynamic registration names the client so; the consent page shows it. */
const MCP_REMOTE_CLIENT_NAME = 'MCP CLI Client'

/** The Claude Desktop entry documented in docs/client-setups.md that signs in with OAuth (no header). */
function documentedOAuthSetup (): { command: string, args: string[] } {
  const page = readFileSync(fileURLToPath(new URL('../../docs/client-setups.md', import.meta.url)), 'utf8')
  for (const [, json] of page.matchAll(/^```json\n([\s\S]*?)\n```$/gm)) {
    const entry = (JSON.parse(json ?? '{}') as { mcpServers?: Record<string, { command?: string, args?: string[] }> }).mcpServers?.calculator
    if (entry?.args?.[0] === 'mcp-remote' && !entry.args.includes('--header')) return { command: entry.command ?? '', args: entry.args }
  }
  throw new Error('docs/client-setups.md has no Claude Desktop entry that runs mcp-remote without a header')
}

browserTest(t, 'mcp-remote-client: browser login, consent, tools listed', async (t, browser) => {
  const server = await startOAuthServer({ username: USER, password: PASSWORD })
  t.teardown(server.close)
  t.equal(server.url.href, `${server.origin}/mcp`, 'listens on the port config/oauth.yaml was given')

  const remote = startMcpRemote('client', server.url.href)
  t.teardown(remote.stop)
  const authorizeUrl = await remote.authorizeUrl()
  await remote.waitForLog(/Browser opened automatically/)
  const authorize = new URL(authorizeUrl)
  // The printed URL encodes spaces as `+`, the opened one as `%20`: compare them parsed.
  t.same(remote.openedUrls().map((url) => [...new URL(url).searchParams]), [[...authorize.searchParams]], 'mcp-remote opened the authorization URL in "the browser" (BROWSER)')
  t.equal(authorize.origin, server.origin, 'on the server\'s own authorization endpoint')
  t.match(Object.fromEntries(authorize.searchParams), { response_type: 'code', code_challenge_method: 'S256', redirect_uri: REDIRECT_URI, resource: server.url.href })

  const page = await browser.newPage()
  await page.goto(authorizeUrl)
  await page.getByLabel('Username').fill(USER)
  await page.getByLabel('Password').fill('not the password')
  const [refused] = await Promise.all([page.waitForResponse((response) => response.request().method() === 'POST'), page.getByRole('button', { name: 'Sign in' }).click()])
  t.equal(refused.status(), 401, 'a wrong password is refused')
  t.ok(await page.getByText('Wrong username or password').isVisible(), 'and the login page says so')

  const shots: string[] = []
  const { offered, callbackUrl } = await logInAndConsent(page, authorizeUrl, {
    username: USER,
    password: PASSWORD,
    callback: CALLBACK,
    onPage: async (page, which) => {
      if (which === 'consent') t.match(await page.locator('h1').textContent(), MCP_REMOTE_CLIENT_NAME, 'the consent page names the client')
      shots.push(await browser.screenshot(page, which))
    }
  })
  t.same(offered.filter((scope) => ['calculator:add', 'calculator:multiply', 'calculator:whoami'].includes(scope)).sort(), ['calculator:add', 'calculator:multiply', 'calculator:whoami'], 'the calculator\'s scopes are offered')
  t.match(Object.fromEntries(callbackUrl.searchParams), { code: /\S/, state: authorize.searchParams.get('state'), iss: server.origin }, 'the redirect carries code, state and iss')

  await remote.waitForLog(/Connected successfully!/)
  const tools = await remote.waitForLog(/Tools: (\{[\s\S]*?\n\})/)
  const listed = (JSON.parse(tools[1] ?? '{}') as { tools?: Array<{ name: string }> }).tools?.map((tool) => tool.name) ?? []
  t.ok(listed.includes('add'), `tools listed: ${listed.join(', ')}`)
  t.equal(await remote.exited, 0, 'mcp-remote-client exits 0')

  for (const shot of shots) t.same([...readFileSync(shot).subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47], `${shot} is a PNG`)
  t.equal(shots.length, 2, 'screenshots of the login and the consent page under .tap/screenshots')
  t.notMatch(server.logs.text, PASSWORD, 'the password is in no log line')
})

browserTest(t, 'the Claude Desktop setup (mcp-remote stdio proxy): add works, an ungranted tool is refused', async (t, browser) => {
  const server = await startOAuthServer({ username: USER, password: PASSWORD })
  t.teardown(server.close)
  const setup = documentedOAuthSetup()
  t.same([setup.command, ...setup.args], ['npx', 'mcp-remote', 'http://127.0.0.1:3000/mcp'], 'the documented entry (run here with the installed mcp-remote, on this server\'s port)')

  const proxy = startMcpRemote('proxy', server.url.href, setup.args.slice(2))
  t.teardown(proxy.stop)
  const granted = await logInAndConsent(await browser.newPage(), await proxy.authorizeUrl(), {
    username: USER, password: PASSWORD, callback: CALLBACK, withhold: ['calculator:multiply']
  })
  await proxy.waitForLog(/Proxy established successfully/)

  const peer = new StdioPeer(proxy)
  t.match(await peer.initialize(), { result: { protocolVersion: String, serverInfo: Object } }, 'initialize')
  const listed = ((await peer.request('tools/list')).result?.tools as Array<{ name: string }> | undefined)?.map((tool) => tool.name) ?? []
  t.ok(listed.includes('add'), 'add is listed')
  t.notOk(listed.includes('multiply'), 'multiply (not granted) is not listed')
  t.match(await peer.request('tools/call', { name: 'add', arguments: { a: 5, b: 3 } }), { result: { structuredContent: { result: 8 } } }, '5 + 3 = 8')
  const whoami = await peer.request('tools/call', { name: 'whoami', arguments: {} })
  t.same((whoami.result?.structuredContent as { permissions?: string[] } | undefined)?.permissions?.slice().sort(),
    granted.offered.filter((scope) => scope !== 'calculator:multiply').sort(), 'the token carries exactly the scopes left checked')

  // The server answers 403 insufficient_scope; mcp-remote asks the person to authorize more (a
  // second authorization URL, for the missing scope too), and the person declines.
  const refused = peer.request('tools/call', { name: 'multiply', arguments: { a: 5, b: 3 } }, 60_000)
  const stepUp = new URL(await proxy.authorizeUrl(1))
  t.match(stepUp.searchParams.get('scope'), /calculator:multiply/, 'step-up asks for the missing scope')
  const declined = await logInAndConsent(await browser.newPage(), stepUp.href, { username: USER, password: PASSWORD, callback: CALLBACK, decision: 'Deny' })
  t.equal(declined.callbackUrl.searchParams.get('error'), 'access_denied')
  const answer = await refused
  t.equal(answer.result, undefined, 'multiply did not run')
  t.match(answer.error, { message: /access_denied/ }, 'the host gets an error')
  t.ok(server.logs.records().some((line) => line.event === 'tool' && line.tool === 'multiply' && line.outcome === 'denied'), 'the server audited the refused call')
  t.notMatch(server.logs.text, PASSWORD, 'the password is in no log line')
})
