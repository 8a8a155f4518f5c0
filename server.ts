import type { FastifyInstance } from 'fastify'
import { buildApp, type BuildAppOptions } from './app.js'
import type { Config } from './config/schema.js'

export interface RunningServer {
  app: FastifyInstance
  /** The URL of the MCP endpoint, with the port actually bound. */
  mcpUrl: string
  close: () => Promise<void>
}

/** Builds the app and listens on the configured address (port 0 picks a free port). */
export async function startServer (config: Config, options: BuildAppOptions = {}): Promise<RunningServer> {
  const app = await buildApp(config, options)
  await app.listen({ host: config.server.host, port: config.server.port })
  const address = app.server.address()
  const port = typeof address === 'object' && address !== null ? address.port : config.server.port
  const host = config.server.host.includes(':') && !config.server.host.startsWith('[') ? `[${config.server.host}]` : config.server.host
  return {
    app,
    mcpUrl: `http://${host}:${port}${config.mcp.path}`,
    close: async () => { await app.close() }
  }
}
