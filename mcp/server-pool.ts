import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { principalKey, type Principal } from '../plugins/auth/principal.js'
import { HttpMultiplexTransport } from './transport.js'

interface Entry {
  server: McpServer
  transport: HttpMultiplexTransport
}

/**
 * Long-lived MCP servers for stateless mode: one per principal, created on first use and kept
 * in a bounded least-recently-used map. Every HTTP request of that principal is multiplexed onto
 * its server, so no server, transport or schema compiler is built per request.
 */
export class ServerPool {
  readonly #entries = new Map<string, Promise<Entry>>()
  readonly #createServer: (principal: Principal) => McpServer
  readonly #maxServers: number

  constructor (createServer: (principal: Principal) => McpServer, maxServers: number) {
    this.#createServer = createServer
    this.#maxServers = maxServers
  }

  get size (): number {
    return this.#entries.size
  }

  async transportFor (principal: Principal): Promise<HttpMultiplexTransport> {
    const key = principalKey(principal)
    let entry = this.#entries.get(key)
    if (entry === undefined) {
      entry = this.#connect(principal)
      this.#entries.set(key, entry)
      entry.catch(() => this.#entries.delete(key))
      this.#evictOverflow()
    } else {
      // Refresh the entry's position: a Map iterates in insertion order, oldest first.
      this.#entries.delete(key)
      this.#entries.set(key, entry)
    }
    return (await entry).transport
  }

  async close (): Promise<void> {
    const entries = [...this.#entries.values()]
    this.#entries.clear()
    for (const entry of await Promise.allSettled(entries)) {
      if (entry.status === 'fulfilled') await entry.value.server.close()
    }
  }

  async #connect (principal: Principal): Promise<Entry> {
    const server = this.#createServer(principal)
    const transport = new HttpMultiplexTransport()
    await server.connect(transport)
    return { server, transport }
  }

  #evictOverflow (): void {
    while (this.#entries.size > this.#maxServers) {
      const oldest = this.#entries.keys().next().value
      if (oldest === undefined) return
      const entry = this.#entries.get(oldest)
      this.#entries.delete(oldest)
      // Requests already dispatched to it still complete: closing only detaches the transport.
      void entry?.then(({ server, transport }) => transport.inFlightCount === 0 ? server.close() : undefined)
    }
  }
}
