import type { FastifyInstance } from 'fastify'
import { buildApp, type BuildAppOptions } from './app.js'
import type { Config } from './deployment.js'

export interface RunningServer {
  app: FastifyInstance
  /** The URL of the MCP endpoint, with the port actually bound. */
  mcpUrl: string
  /** The URL of the metrics endpoint when it has a port of its own. */
  metricsUrl?: string
  close: () => Promise<void>
}

/** Builds the app and listens on the configured address (port 0 picks a free port). */
export async function startServer (config: Config, options: BuildAppOptions = {}): Promise<RunningServer> {
  const app = await buildApp(config, options)
  await app.listen({ host: config.server.host, port: config.server.port })
  const scheme = config.server.tls === undefined ? 'http' : 'https'
  const running: RunningServer = {
    app,
    mcpUrl: `${scheme}://${hostPort(config.server.host, app)}${config.mcp.path}`,
    close: async () => { await app.close() }
  }
  const metrics = app.mcpAuthMetricsServer
  if (metrics !== null) {
    await metrics.app.listen({ host: metrics.host, port: metrics.port })
    running.metricsUrl = `http://${hostPort(metrics.host, metrics.app)}${config.metrics.path}`
  }
  return running
}

function hostPort (host: string, app: FastifyInstance): string {
  const address = app.server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  return `${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${port}`
}
