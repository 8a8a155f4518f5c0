import { parseArgs } from 'node:util'
import { configFileFrom } from '../config/load.js'
import { loadConfigFile } from '../deployment.js'
import { SIGNING_SECTION, tokenIssueOptionsOf } from '../plugins/auth/registry.js'
import { RememberedConsent } from '../plugins/token-issuer/consents.js'
import { RedisTokenStore } from '../plugins/token-store/index.js'
import { CommandError, UsageError, write, type CliIo } from './io.js'

/** How long to wait for Redis before giving up. */
const CONNECT_TIMEOUT = 5000

/**
 * `consent revoke --user U [--client ID]`: forgets what a user allowed one client, or every client,
 * in the config's token store, so the next authorization asks again. Only a shared store (Redis)
 * can be reached from outside the server; the memory store lives and dies with the server process.
 */
export async function consentCommand (args: readonly string[], io: CliIo): Promise<number> {
  const [subcommand, ...rest] = args
  if (subcommand !== 'revoke') throw new UsageError(subcommand === undefined ? 'consent: a subcommand is required (revoke)' : `consent: unknown subcommand "${subcommand}"`)
  const { values } = parseArgs({ args: rest, options: { config: { type: 'string' }, user: { type: 'string' }, client: { type: 'string' } } })
  if (values.user === undefined || values.user === '') throw new UsageError('consent revoke: --user is required')
  if (values.client === '') throw new UsageError('consent revoke: --client must not be empty (leave it out to revoke every client)')
  const file = configFileFrom(values.config, io.env)
  const config = loadConfigFile(file, { env: io.env })
  const login = tokenIssueOptionsOf(config.auth)?.login
  if (login === undefined) throw new CommandError(`consent revoke: ${file} has no ${SIGNING_SECTION}.issue.login section: nobody signs in, so no consent is remembered`, 2)
  if (config.store.redisUrl === undefined) {
    throw new CommandError(`consent revoke: ${file} keeps remembered consent in the memory store, inside the running server process, where this command cannot reach it. ` +
      'Restarting the server forgets all of it; to revoke consent while the server runs, set store.redisUrl (a Redis shared by the server and this command).', 2)
  }
  if (!login.users.some((user) => user.username.normalize('NFC') === values.user?.normalize('NFC'))) {
    // Not an error: the user may have been removed from the config after consenting.
    write(io.stderr, `fastify-mcp-auth: note: ${values.user} is not among the login users of ${file}; revoking anyway`)
  }
  const store = new RedisTokenStore({ url: config.store.redisUrl, keyPrefix: config.store.keyPrefix })
  try {
    if (!await store.connected(CONNECT_TIMEOUT, true)) throw new CommandError(`consent revoke: the token store (Redis, store.redisUrl of ${file}) could not be reached; nothing was revoked`, 1)
    const consents = new RememberedConsent(store)
    if (values.client === undefined) {
      if (login.consentTtl <= 0) {
        write(io.stdout, `consent is not remembered (login.consentTtl is 0): ${values.user} has none to revoke`)
        return 0
      }
      await consents.forgetAll(values.user, login.consentTtl)
      write(io.stdout, `revoked the remembered consent of ${values.user} to every client: the next authorization of each asks again`)
      return 0
    }
    const scopes = await consents.forget(values.client, values.user)
    write(io.stdout, scopes.length === 0
      ? `${values.user} had no remembered consent to ${values.client}: nothing changed`
      : `revoked the remembered consent of ${values.user} to ${values.client} (${scopes.join(' ')}): the next authorization asks again`)
    return 0
  } finally {
    await store.close()
  }
}
