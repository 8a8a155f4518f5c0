import { parseArgs } from 'node:util'
import Fastify from 'fastify'
import { StdioServerTransport } from '@modelcontextprotocol/server/stdio'
import { configFileFrom, loadConfigFile } from '../config/load.js'
import { chosenStrategies, type Config } from '../config/schema.js'
import { configuredAuth } from '../plugins/auth/configured.js'
import type { Principal } from '../plugins/auth/principal.js'
import { createCalculatorServer } from '../mcp/server.js'
import { StdioBridge } from '../mcp/stdio.js'
import { ToolAccess } from '../mcp/tool-access.js'
import { UsageError, write, type CliIo } from './io.js'

/** How the configured strategies expect a credential, as request headers. */
function credentialHeaders (config: Config, credential: string): Record<string, string> {
  const headers: Record<string, string> = {}
  const strategies = chosenStrategies(config.auth.strategy)
  if (strategies.includes('api-key')) headers[config.auth.apiKey?.header ?? 'x-api-key'] = credential
  if (strategies.includes('basic') && (credential.includes(':') || !strategies.some((s) => s === 'bearer' || s === 'jwt'))) {
    headers.authorization = 'Basic ' + Buffer.from(credential, 'utf8').toString('base64')
  } else if (strategies.includes('bearer') || strategies.includes('jwt')) {
    headers.authorization = `Bearer ${credential}`
  }
  return headers
}

/** Checks the credential with the configured strategies, exactly as the HTTP server would. */
async function authenticate (config: Config, credential: string): Promise<Principal | string> {
  const probe = Fastify({ logger: false })
  await probe.register(async (scope) => {
    await scope.register(configuredAuth, { auth: config.auth })
    scope.get('/principal', async (request) => request.principal)
  })
  try {
    const answer = await probe.inject({ url: '/principal', headers: credentialHeaders(config, credential) })
    return answer.statusCode === 200 ? answer.json() as Principal : (answer.json() as { message?: string }).message ?? `status ${answer.statusCode}`
  } finally {
    await probe.close()
  }
}

/**
 * `stdio`: the calculator over stdio, for clients that launch a command. Per the MCP spec a stdio
 * server takes its credentials from the environment: MCP_AUTH_CREDENTIAL holds what the HTTP
 * header would carry (an API key, a bearer token or JWT, or user:password for Basic); with the
 * api-key strategy CALCULATOR_API_KEY is used when it is absent. It is checked once, at start,
 * with the same config and strategies as `serve`. Nothing is read from tool arguments, and stdout
 * carries only MCP messages (diagnostics go to stderr).
 */
export async function stdioCommand (args: readonly string[], io: CliIo & { stdin?: NodeJS.ReadableStream }): Promise<number | undefined> {
  const { values } = parseArgs({ args: [...args], options: { config: { type: 'string' } } })
  const config = loadConfigFile(configFileFrom(values.config, io.env), { env: io.env })
  const strategies = chosenStrategies(config.auth.strategy)
  const credential = io.env.MCP_AUTH_CREDENTIAL ?? (strategies.includes('api-key') ? io.env.CALCULATOR_API_KEY : undefined)
  if ((credential === undefined || credential === '') && !strategies.includes('none')) {
    throw new UsageError('stdio: set MCP_AUTH_CREDENTIAL in the environment the client launches this command with (an API key, a token, or user:password)')
  }
  const principal = await authenticate(config, credential ?? '')
  if (typeof principal === 'string') {
    write(io.stderr, `fastify-mcp-auth: stdio: the credential in MCP_AUTH_CREDENTIAL was refused (${principal})`)
    return 2
  }
  write(io.stderr, `fastify-mcp-auth: stdio: serving the calculator as ${principal.strategy}:${principal.id}`)
  const access = new ToolAccess({ prefix: 'calculator', overrides: config.mcp.toolPermissions, hierarchy: config.mcp.scopeHierarchy })
  const stdin = (io.stdin ?? process.stdin) as NodeJS.ReadStream
  const stdout = io.stdout as NodeJS.WriteStream
  const bridge = new StdioBridge({ wire: new StdioServerTransport(stdin, stdout), principal, createServer: createCalculatorServer, access, fastToolCalls: config.mcp.fastToolCalls })
  await bridge.start()
  return undefined
}
