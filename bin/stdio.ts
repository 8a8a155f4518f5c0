import { parseArgs } from 'node:util'
import Fastify from 'fastify'
import { StdioServerTransport } from '@modelcontextprotocol/server/stdio'
import { configFileFrom } from '../config/load.js'
import { loadConfigFile, type Config } from '../deployment.js'
import { configuredAuth } from '../plugins/auth/configured.js'
import { openAccessStrategy, stdioCredential } from '../plugins/auth/registry.js'
import type { Principal } from '../core/principal.js'
import { createCalculatorServer } from '../mcp/server.js'
import { StdioBridge } from '../mcp/stdio.js'
import { ToolAccess } from '../mcp/tool-access.js'
import { UsageError, write, type CliIo } from './io.js'

/** Checks the credential with the configured strategies, exactly as the HTTP server would. */
async function authenticate (config: Config, credential: Record<string, string>): Promise<Principal | string> {
  const probe = Fastify({ logger: false })
  await probe.register(async (scope) => {
    await scope.register(configuredAuth, { auth: config.auth })
    scope.get('/principal', async (request) => request.principal)
  })
  try {
    const answer = await probe.inject({ url: '/principal', headers: credential })
    return answer.statusCode === 200 ? answer.json() as Principal : (answer.json() as { message?: string }).message ?? `status ${answer.statusCode}`
  } finally {
    await probe.close()
  }
}

/**
 * `stdio`: the calculator over stdio, for clients that launch a command. Per the MCP spec a stdio
 * server takes its credentials from the environment: MCP_AUTH_CREDENTIAL holds what the HTTP
 * header would carry (an API key, a bearer token or JWT, or user:password for Basic); with the
 * api-key strategy CALCULATOR_API_KEY is used when it is absent (each strategy's registry entry says
 * how a credential is presented to it). It is checked once, at start,
 * with the same config and strategies as `serve`. Nothing is read from tool arguments, and stdout
 * carries only MCP messages (diagnostics go to stderr).
 */
export async function stdioCommand (args: readonly string[], io: CliIo & { stdin?: NodeJS.ReadableStream }): Promise<number | undefined> {
  const { values } = parseArgs({ args: [...args], options: { config: { type: 'string' } } })
  const config = loadConfigFile(configFileFrom(values.config, io.env), { env: io.env })
  const { credential, headers } = stdioCredential(config.auth, io.env)
  if ((credential === undefined || credential === '') && openAccessStrategy(config.auth) === undefined) {
    throw new UsageError('stdio: set MCP_AUTH_CREDENTIAL in the environment the client launches this command with (an API key, a token, or user:password)')
  }
  const principal = await authenticate(config, credential === undefined ? {} : headers(credential))
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
