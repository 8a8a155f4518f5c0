import { frozenPrincipal, principalKey, toAuthInfo, type Principal } from '../core/principal.js'
import { connectLegacy, ModernEndpoint, type LegacyEndpoint } from './endpoints.js'
import type { ProtocolEra } from './protocol-versions.js'
import { mountedServer, type CreateMcpServer } from './server.js'

type Endpoint<E extends ProtocolEra> = E extends 'legacy' ? LegacyEndpoint : ModernEndpoint | undefined

interface Connection<T> {
  connecting: Promise<T>
  /** Set once connected, so later requests skip the await. */
  ready?: T
  done: boolean
}

interface Slot {
  legacy?: Connection<LegacyEndpoint>
  modern?: Connection<ModernEndpoint | undefined>
}

/** Whom a shared server is created for: every caller reaches its tools in `ctx.http.authInfo`. */
export const EVERY_PRINCIPAL: Principal = frozenPrincipal({ id: '*', strategy: 'shared', permissions: [] })
const SHARED_SLOT = '*'

/**
 * Long-lived MCP servers: one per principal and protocol era (or, `shared`, one per era for every
 * principal), created on first use and kept in a bounded least-recently-used map. Every request of
 * that principal in that era is multiplexed onto its server, so no server, transport or schema
 * compiler is built per request. Stateful deployments use it for the 2026-07-28 era, which has no
 * sessions. A shared server's answers from clients (to its requests) are only taken from the
 * principal the request was sent to (mcp/legacy-transport.ts).
 */
export class ServerPool {
  readonly #slots = new Map<string, Slot>()
  readonly #createServer: CreateMcpServer
  readonly #maxServers: number
  readonly #fastToolCalls: boolean
  readonly #shared: boolean

  constructor (createServer: CreateMcpServer, options: { maxServers: number, fastToolCalls: boolean, shared?: boolean }) {
    this.#createServer = createServer
    this.#maxServers = options.maxServers
    this.#fastToolCalls = options.fastToolCalls
    this.#shared = options.shared === true
  }

  get size (): number {
    return this.#slots.size
  }

  /** The principal's server for the 2025 revisions: synchronously once connected, else a promise. */
  legacyFor (principal: Principal): LegacyEndpoint | Promise<LegacyEndpoint> {
    return this.#endpoint(principal, 'legacy')
  }

  /** The principal's server for 2026-07-28; undefined when `createServer` builds legacy-only servers. */
  modernFor (principal: Principal): ModernEndpoint | undefined | Promise<ModernEndpoint | undefined> {
    return this.#endpoint(principal, 'modern')
  }

  /**
   * Ends every `subscriptions/listen` stream gracefully (each gets its completion result): they
   * would otherwise hold their connections open through a shutdown.
   */
  endStreams (): void {
    for (const slot of this.#slots.values()) slot.modern?.ready?.listen.close()
  }

  async close (): Promise<void> {
    const slots = [...this.#slots.values()]
    this.#slots.clear()
    await Promise.all(slots.map(async (slot) => await closeSlot(slot)))
  }

  #endpoint<E extends ProtocolEra> (caller: Principal, era: E): Endpoint<E> | Promise<Endpoint<E>> {
    const principal = this.#shared ? EVERY_PRINCIPAL : caller
    const key = this.#shared ? SHARED_SLOT : principalKey(principal)
    let slot = this.#slots.get(key)
    if (slot === undefined) {
      slot = {}
      this.#slots.set(key, slot)
      this.#evictOverflow()
    } else if (this.#slots.size > 1) {
      // Refresh the entry's position: a Map iterates in insertion order, oldest first.
      this.#slots.delete(key)
      this.#slots.set(key, slot)
    }
    const existing = slot[era] as Connection<Endpoint<E>> | undefined
    if (existing !== undefined) return existing.done ? existing.ready as Endpoint<E> : existing.connecting
    const connection = this.#connect(principal, era)
    slot[era] = connection as Slot[E]
    const owner = slot
    connection.connecting.then(undefined, () => {
      if (owner[era] === connection) delete owner[era]
    })
    return connection.connecting
  }

  #connect<E extends ProtocolEra> (principal: Principal, era: E): Connection<Endpoint<E>> {
    const mounted = mountedServer(this.#createServer({ principal, era }))
    const connecting = (era === 'legacy'
      ? connectLegacy(mounted, { fastToolCalls: this.#fastToolCalls })
      : ModernEndpoint.connect(mounted, { fastToolCalls: this.#fastToolCalls, authInfo: toAuthInfo(principal) })) as Promise<Endpoint<E>>
    const connection: Connection<Endpoint<E>> = { connecting, done: false }
    connecting.then((endpoint) => { connection.ready = endpoint; connection.done = true }, () => {})
    return connection
  }

  #evictOverflow (): void {
    while (this.#slots.size > this.#maxServers) {
      const oldest = this.#slots.keys().next().value
      if (oldest === undefined) return
      const slot = this.#slots.get(oldest)
      this.#slots.delete(oldest)
      if (slot !== undefined) void closeSlot(slot, true)
    }
  }
}

/** Closes a slot's servers; on eviction, one with requests in flight is left to finish them and be collected. */
async function closeSlot (slot: Slot, evicted = false): Promise<void> {
  const [legacy, modern] = await Promise.allSettled([slot.legacy?.connecting, slot.modern?.connecting])
  if (legacy.status === 'fulfilled' && legacy.value !== undefined && !(evicted && legacy.value.transport.inFlightCount > 0)) {
    await legacy.value.server.close()
  }
  if (modern.status === 'fulfilled' && modern.value !== undefined && !(evicted && modern.value.transport.inFlightCount > 0)) {
    await modern.value.close()
  }
}
