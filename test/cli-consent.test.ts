import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { main } from '../bin/cli.js'
import { memoryIo } from './helpers/cli-io.js'
import { JWT_SECRET } from './helpers/credentials.js'
import { ADA, BOB, CookieJar, DESKTOP, driveLogin, loginConfig, loginConfigFile, REDIRECT_URI, type LoginConfigOptions } from './helpers/login.js'
import { authorizeUrl, pkce } from './helpers/pkce.js'
import { freePort } from './helpers/ports.js'
import { redisTest } from './helpers/redis.js'
import { listen } from './helpers/server.js'

// `fastify-mcp-auth consent revoke`: an operator forgets a user's remembered consent in the
// token store the servers share, and the next authorization asks again.

const io = memoryIo

/** Runs the command line; its exit code and what it wrote. */
async function run (...argv: string[]): Promise<{ code: unknown, out: string, err: string }> {
  const cli = io()
  const code = await main(argv, cli)
  return { code, out: cli.out(), err: cli.err() }
}

function configFile (dir: string, port: number, options: LoginConfigOptions = {}): string {
  const file = join(dir, 'config.json')
  writeFileSync(file, JSON.stringify(loginConfigFile(port, options)))
  return file
}

t.test('usage: a subcommand and --user are required', async (t) => {
  for (const argv of [['consent'], ['consent', 'forget', '--user', 'ada'], ['consent', 'revoke'], ['consent', 'revoke', '--user', ''], ['consent', 'revoke', '--user', 'ada', '--client', ''], ['consent', 'revoke', '--user', 'ada', '--bogus']]) {
    const { code, out, err } = await run(...argv)
    t.equal(code, 2, argv.join(' '))
    t.match(err, 'Usage: fastify-mcp-auth', 'with the usage text')
    t.equal(out, '')
  }
  t.match((await run('help')).out, 'consent revoke --user NAME [--client ID] [--config FILE]', 'the usage lists it')
})

t.test('the memory store: a clear error, exit 2, nothing else', async (t) => {
  const file = configFile(t.testdir({}), 3000)
  const { code, out, err } = await run('consent', 'revoke', '--config', file, '--user', ADA.username)
  t.equal(code, 2)
  t.equal(out, '')
  t.match(err, `fastify-mcp-auth: consent revoke: ${file} keeps remembered consent in the memory store, inside the running server process`)
  t.match(err, 'set store.redisUrl')
  t.notMatch(err, 'Usage:', 'not a usage error')
})

t.test('a config without interactive login: exit 2', async (t) => {
  const file = join(t.testdir({}), 'jwt.json')
  writeFileSync(file, JSON.stringify({ auth: { strategy: 'jwt', jwt: { secret: JWT_SECRET } } }))
  const { code, err } = await run('consent', 'revoke', '--config', file, '--user', ADA.username)
  t.equal(code, 2)
  t.match(err, 'has no auth.jwt.issue.login section')
})

t.test('a Redis that does not answer: exit 1, nothing revoked', async (t) => {
  const file = configFile(t.testdir({}), 3000, { store: { redisUrl: `redis://127.0.0.1:${await freePort()}` } })
  const { code, out, err } = await run('consent', 'revoke', '--config', file, '--user', ADA.username, '--client', DESKTOP.id)
  t.equal(code, 1)
  t.equal(out, '')
  t.match(err, 'could not be reached; nothing was revoked')
})

redisTest(t, 'revoked through Redis: for one client, then for every client; other users keep theirs', async (t, redis) => {
  const port = await freePort()
  const options: LoginConfigOptions = { store: { redisUrl: redis.url } }
  const server = await listen(loginConfig(port, options))
  t.teardown(async () => { await server.close() })
  const origin = server.url.origin
  const file = configFile(t.testdir({}), port, options)
  const registered = await (await fetch(`${origin}/oauth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_name: 'Registered', redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: 'none' })
  })).json() as { client_id: string }
  /**
   * What a silent authorization of `client` answers the browser of `jar`: a code, or an error (at
   * the redirect URI; a registered client's refusals come in the answer itself, never redirected).
   */
  const silently = async (jar: CookieJar, client = DESKTOP.id): Promise<string | undefined> => {
    const answer = await fetch(authorizeUrl(origin, pkce().challenge, { prompt: 'none', client_id: client }), { redirect: 'manual', headers: { cookie: jar.header, accept: 'application/json' } })
    const location = answer.headers.get('location')
    if (location === null) return ((await answer.json()) as { error?: string }).error
    const params = new URL(location).searchParams
    return params.has('code') ? 'code' : params.get('error') ?? undefined
  }
  const consent = async (jar: CookieJar, client: string, user = ADA): Promise<void> => {
    await driveLogin(authorizeUrl(origin, pkce().challenge, { client_id: client }), { user }, jar)
  }
  const ada = new CookieJar()
  await consent(ada, DESKTOP.id)
  await consent(ada, registered.client_id)
  const bob = new CookieJar()
  await consent(bob, DESKTOP.id, BOB)
  t.same([await silently(ada), await silently(ada, registered.client_id), await silently(bob)], ['code', 'code', 'code'], 'consent remembered')

  const one = await run('consent', 'revoke', '--config', file, '--user', ADA.username, '--client', DESKTOP.id)
  t.equal(one.code, 0)
  t.equal(one.out, 'revoked the remembered consent of ada to desktop (calculator:add calculator:multiply): the next authorization asks again\n')
  t.same([await silently(ada), await silently(ada, registered.client_id), await silently(bob)], ['consent_required', 'code', 'code'], 'only ada\'s consent to desktop is gone')
  const page = await fetch(authorizeUrl(origin, pkce().challenge), { redirect: 'manual', headers: { cookie: ada.header } })
  const shown = await fetch(new URL(page.headers.get('location') ?? '', origin), { redirect: 'manual', headers: { cookie: ada.header } })
  t.equal(shown.status, 200, 'the consent page is shown again')
  const again = await run('consent', 'revoke', '--config', file, '--user', ADA.username, '--client', DESKTOP.id)
  t.same([again.code, again.out, again.err], [0, 'ada had no remembered consent to desktop: nothing changed\n', ''])
  const stranger = await run('consent', 'revoke', '--config', file, '--user', 'mallory', '--client', DESKTOP.id)
  t.same([stranger.code, stranger.err], [0, `fastify-mcp-auth: note: mallory is not among the login users of ${file}; revoking anyway\n`], 'a name not in the config: a note, not an error')

  await consent(ada, DESKTOP.id)
  t.equal(await silently(ada), 'code', 'consent given again is remembered')
  const all = await run('consent', 'revoke', '--config', file, '--user', ADA.username)
  t.equal(all.code, 0)
  t.equal(all.out, 'revoked the remembered consent of ada to every client: the next authorization of each asks again\n')
  t.same([await silently(ada), await silently(ada, registered.client_id), await silently(bob)], ['consent_required', 'consent_required', 'code'], 'every client of ada, registered ones too; bob keeps his')
  await consent(ada, registered.client_id)
  t.same([await silently(ada, registered.client_id), await silently(ada)], ['code', 'consent_required'], 'consent given after the revocation is remembered, and only that')
  const afterAll = await run('consent', 'revoke', '--config', file, '--user', ADA.username, '--client', registered.client_id)
  t.match(afterAll.out, `revoked the remembered consent of ada to ${registered.client_id} (calculator:add calculator:multiply)`, 'and can be revoked for one client')
  t.equal(await silently(ada, registered.client_id), 'consent_required')
})
