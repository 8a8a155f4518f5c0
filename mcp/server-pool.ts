import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { principalKey, type Principal } from '../plugins/auth/principal.js'
import { connectMultiplexed, type HttpMultiplexTransport } from './transport.js'

interface Entry {
  server: McpServer
  transport: HttpMultiplexTransport
}

interface Slot {
  connecting: Promise<Entry>
  /** Set once connected, so later requests skip the await. */
  ready?: Entry
}

/**
 * Long-lived MCP servers for stateless mode: one per principal, created on first use and kept
 * in a bounded least-recently-used map. Every HTTP request of that principal is multiplexed onto
 * its server, so no server, transport or schema compiler is built per request.
 */
export class ServerPool {
  readonly #entries = new Map<string, Slot>()
  readonly #createServer: (principal: Principal) => McpServer
  readonly #maxServers: number
  readonly #fastToolCalls: boolean

  constructor (createServer: (principal: Principal) => McpServer, maxServers: number, fastToolCalls = true) {
    this.#createServer = createServer
    this.#maxServers = maxServers
    this.#fastToolCalls = fastToolCalls
  }

  get size (): number {
    return this.#entries.size
  }

  /** The principal's transport: synchronously once its server is connected, else a promise. */
  transportFor (principal: Principal): HttpMultiplexTransport | Promise<HttpMultiplexTransport> {
    const key = principalKey(principal)
    let slot = this.#entries.get(key)
    if (slot === undefined) {
      const connecting = this.#connect(principal)
      const created: Slot = { connecting }
      slot = created
      this.#entries.set(key, created)
      connecting.then((entry) => { created.ready = entry }, () => this.#entries.delete(key))
      this.#evictOverflow()
    } else if (this.#entries.size > 1) {
      // Refresh the entry's position: a Map iterates in insertion order, oldest first.
      this.#entries.delete(key)
      this.#entries.set(key, slot)
    }
    return slot.ready?.transport ?? slot.connecting.then((entry) => entry.transport)
  }

  async close (): Promise<void> {
    const slots = [...this.#entries.values()]
    this.#entries.clear()
    for (const entry of await Promise.allSettled(slots.map((slot) => slot.connecting))) {
      if (entry.status === 'fulfilled') await entry.value.server.close()
    }
  }

  async #connect (principal: Principal): Promise<Entry> {
    const server = this.#createServer(principal)
    return { server, transport: await connectMultiplexed(server, { fastToolCalls: this.#fastToolCalls }) }
  }

  #evictOverflow (): void {
    while (this.#entries.size > this.#maxServers) {
      const oldest = this.#entries.keys().next().value
      if (oldest === undefined) return
      const slot = this.#entries.get(oldest)
      this.#entries.delete(oldest)
      // A server with requests in flight is left to finish them and be collected.
      void slot?.connecting.then(({ server, transport }) => transport.inFlightCount === 0 ? server.close() : undefined)
    }
  }
}
