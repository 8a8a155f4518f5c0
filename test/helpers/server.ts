import { Writable } from 'node:stream'
import { parseConfig, type Config } from '../../deployment.js'
import type { BuildAppOptions } from '../../app.js'
import { startServer, type RunningServer } from '../../server.js'

/** Log lines written by an app, parsed, plus the raw text for secret sweeps. */
export class LogCapture extends Writable {
  readonly lines: string[] = []

  override _write (chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    for (const line of chunk.toString('utf8').split('\n')) if (line !== '') this.lines.push(line)
    callback()
  }

  get text (): string {
    return this.lines.join('\n')
  }

  records (): Array<Record<string, unknown>> {
    return this.lines.map((line) => JSON.parse(line) as Record<string, unknown>)
  }
}

/**
 * A config for tests: listens on 127.0.0.1, a free port, and logs everything. The failed-auth
 * throttle is off unless a test sets it: tests send many refused requests from one address.
 */
export function testConfig (raw: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): Config {
  const server = (raw.server ?? {}) as Record<string, unknown>
  const rateLimit = (raw.rateLimit ?? {}) as Record<string, unknown>
  return parseConfig({ ...raw, server: { host: '127.0.0.1', port: 0, ...server }, rateLimit: { failedAuth: false, ...rateLimit }, logger: { level: 'debug' } }, { env })
}

export interface TestServer extends RunningServer {
  logs: LogCapture
  url: URL
}

export async function listen (config: Config, options: BuildAppOptions = {}): Promise<TestServer> {
  const logs = new LogCapture()
  const running = await startServer(config, { ...options, logStream: logs })
  return { ...running, logs, url: new URL(running.mcpUrl) }
}
