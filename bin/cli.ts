import { parseArgs } from 'node:util'
import closeWithGrace from 'close-with-grace'
import { configFileFrom, DEFAULT_CONFIG_FILE } from '../config/load.js'
import { loadConfigFile, type Config } from '../deployment.js'
import { ConfigError } from '../core/problems.js'
import { MCP_AUTH_INVALID_OPTION } from '../core/errors.js'
import { chosenStrategies, stdioCredential } from '../plugins/auth/registry.js'
import { startServer, type RunningServer } from '../server.js'
import { generatedKeyBanner } from './banner.js'
import { generateKey } from './gen-key.js'
import { hashPasswordCommand } from './hash-password.js'
import { tokenCommand } from './token.js'
import { consentCommand } from './consent.js'
import { stdioCommand } from './stdio.js'
import { CommandError, UsageError, write, type CliIo } from './io.js'

export type { CliIo } from './io.js'

export const USAGE = `Usage: fastify-mcp-auth <command> [options]

Commands:
  serve [--config FILE] [--host HOST] [--port PORT]   start the MCP server (what npm start runs)
  check-config [FILE | --config FILE]                 validate a config file without starting
  gen-key                                             print a new random API key and its sha256
  hash-password                                       read a password on stdin, print its scrypt hash
  token --sub ID --permissions a,b [--ttl 15m] [--config FILE]
                                                      mint a JWT with the config's signing key
  consent revoke --user NAME [--client ID] [--config FILE]
                                                      forget a login user's remembered consent (needs store.redisUrl)
  stdio [--config FILE]                               the calculator over stdio, for clients that launch a command;
                                                      the credential comes from MCP_AUTH_CREDENTIAL

The config file is --config FILE, else $MCP_AUTH_CONFIG, else config/default.yaml.
`

/** Exit code 2: the command line or the configuration is wrong (as opposed to a crash). */
export const EXIT_USAGE = 2

function parsePort (value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  const port = Number(value)
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port: expected a port number, got "${value}"`)
  return port
}

/** Runs one command. Resolves with an exit code, or with the running server for `serve`. */
export async function main (argv: readonly string[], io: CliIo): Promise<number | RunningServer | 'serving'> {
  const [command, ...rest] = argv
  try {
    switch (command) {
      case 'serve':
        return await serve(rest, io)
      case 'check-config':
        return checkConfig(rest, io)
      case 'gen-key': {
        const { key, sha256 } = generateKey()
        write(io.stdout, `${key}\n${sha256}`)
        return 0
      }
      case 'hash-password':
        return await hashPasswordCommand(io)
      case 'token':
        return tokenCommand(rest, io)
      case 'consent':
        return await consentCommand(rest, io)
      case 'stdio':
        return await stdioCommand(rest, io) ?? 'serving'
      case 'help': case '--help': case '-h':
        write(io.stdout, USAGE)
        return 0
      default:
        throw new UsageError(command === undefined ? 'a command is required' : `unknown command "${command}"`)
    }
  } catch (error) {
    if (error instanceof ConfigError) {
      write(io.stderr, `fastify-mcp-auth: ${error.message}`)
      return EXIT_USAGE
    }
    if (error instanceof CommandError) {
      write(io.stderr, `fastify-mcp-auth: ${error.message}`)
      return error.exitCode
    }
    if (error instanceof MCP_AUTH_INVALID_OPTION) {
      write(io.stderr, `fastify-mcp-auth: ${error.message}`)
      return EXIT_USAGE
    }
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') === true) {
      write(io.stderr, `fastify-mcp-auth: ${(error as Error).message}\n\n${USAGE}`)
      return EXIT_USAGE
    }
    throw error
  }
}

function checkConfig (args: readonly string[], io: CliIo): number {
  const { values, positionals } = parseArgs({ args: [...args], options: { config: { type: 'string' } }, allowPositionals: true })
  const file = configFileFrom(values.config ?? positionals[0], io.env)
  const config = loadConfigFile(file, { env: io.env })
  write(io.stdout, `${file}: ok (strategy ${chosenStrategies(config.auth.strategy).join(', ')}, ${config.mcp.sessions} sessions, ${config.server.host}:${config.server.port}${config.mcp.path})`)
  return 0
}

async function serve (args: readonly string[], io: CliIo): Promise<RunningServer> {
  const { values } = parseArgs({
    args: [...args],
    options: { config: { type: 'string' }, host: { type: 'string' }, port: { type: 'string' } }
  })
  const file = configFileFrom(values.config, io.env)
  let env = io.env
  let generatedKey: string | undefined
  // The bundled default config takes its key from CALCULATOR_API_KEY; without one, a first run
  // still works: a key is generated for this run only and shown once.
  if (file === DEFAULT_CONFIG_FILE && (env.CALCULATOR_API_KEY ?? '') === '' && env.CALCULATOR_REQUIRE_AUTH?.toLowerCase() !== 'false') {
    generatedKey = generateKey().key
    env = { ...env, CALCULATOR_API_KEY: generatedKey }
  }
  const config: Config = loadConfigFile(file, { env, overrides: { host: values.host, port: parsePort(values.port) } })
  // The real process logs through pino's own stdout destination; tests pass a stream to read.
  const server = await startServer(config, io.stdout === process.stdout ? {} : { logStream: io.stdout })
  if (generatedKey !== undefined) {
    // The header the bundled config's strategy reads the key from.
    const [header] = Object.keys(stdioCredential(config.auth, {}).headers(generatedKey))
    if (header !== undefined) write(io.stdout, generatedKeyBanner(server.mcpUrl, header, generatedKey))
  }
  if (io.handleSignals === true) {
    closeWithGrace({ delay: config.server.shutdownTimeout, logger: server.app.log }, async ({ err }) => {
      if (err !== undefined) server.app.log.error({ err }, 'shutting down after an error')
      await server.close()
    })
  }
  return server
}
