import { parseArgs } from 'node:util'
import { parse as parseDuration } from '@lukeed/ms'
import { configFileFrom } from '../config/load.js'
import { loadConfigFile } from '../deployment.js'
import { SIGNING_SECTION, tokenSigningOf } from '../plugins/auth/registry.js'
import { UsageError, write, type CliIo } from './io.js'

/** `token`: mints a JWT with the config's signing key, for admins and tests. Needs the config file, so only whoever holds the key can run it. */
export function tokenCommand (args: readonly string[], io: CliIo): number {
  const { values } = parseArgs({
    args: [...args],
    options: { sub: { type: 'string' }, permissions: { type: 'string', default: '' }, ttl: { type: 'string', default: '15m' }, config: { type: 'string' } }
  })
  if (values.sub === undefined || values.sub === '') throw new UsageError('token: --sub is required')
  const ttl = parseDuration(values.ttl)
  if (ttl === undefined || !Number.isFinite(ttl) || ttl <= 0) throw new UsageError(`token: --ttl: expected a duration such as 15m, got "${values.ttl}"`)
  const file = configFileFrom(values.config, io.env)
  const config = loadConfigFile(file, { env: io.env })
  const signing = tokenSigningOf(config.auth)
  if (signing === undefined) throw new UsageError(`token: ${file} has no ${SIGNING_SECTION} section`)
  const permissions = values.permissions.split(',').map((p) => p.trim()).filter((p) => p !== '')
  write(io.stdout, signing.sign({ sub: values.sub, permissions, ttl }).token)
  return 0
}
