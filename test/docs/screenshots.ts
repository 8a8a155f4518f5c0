import { fileURLToPath } from 'node:url'
import { launchChromium, logInAndConsent, savePng } from '../helpers/browser.js'
import { startMcpRemote } from '../helpers/mcp-remote.js'
import { startOAuthServer } from '../helpers/oauth-server.js'

// `npm run screenshots`: writes docs/images/login.png and docs/images/consent.png, the pages a
// person sees when Claude Desktop (mcp-remote) signs in to `config/oauth.yaml`. The same flow as
// test/oauth/browser-login.test.ts, which saves its own copies under .tap/screenshots; tests never
// write into the working tree, so the docs' copies come from this script, run by hand and committed.

const images = fileURLToPath(new URL('../../docs/images/', import.meta.url))
const server = await startOAuthServer({ username: 'ada', password: 'docs screenshot password' })
const remote = startMcpRemote('client', server.url.href)
const browser = await launchChromium()
try {
  const page = await (await browser.newContext({ viewport: { width: 720, height: 560 } })).newPage()
  await logInAndConsent(page, await remote.authorizeUrl(), {
    username: 'ada',
    password: 'docs screenshot password',
    callback: /^http:\/\/127\.0\.0\.1:\d+\/oauth\/callback\?/,
    onPage: async (page, which) => {
      if (which === 'login') await page.getByLabel('Username').fill('ada')
      process.stdout.write(`${await savePng(page, `${images}${which}.png`)}\n`)
    }
  })
  await remote.waitForLog(/Connected successfully!/)
} finally {
  await browser.close()
  await remote.stop()
  await server.close()
}
