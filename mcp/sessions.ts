import { randomUUID } from 'node:crypto'
import type { ServerResponse } from 'node:http'
import type { JSONRPCMessage, McpServer } from '@modelcontextprotocol/server'
import { connectLegacy } from './endpoints.js'
import type { LegacyTransport } from './legacy-transport.js'
import type { MountedServer } from './server.js'

export interface Session {
  readonly id: string
  /** principalKey() of the principal that created the session; nobody else may use it. */
  readonly owner: string
  readonly server: McpServer
  readonly transport: LegacyTransport
  lastSeen: number
  /** The open GET stream for messages that belong to no request, if any. */
  stream: ServerResponse | undefined
}

export interface SessionStoreOptions {
  idleTimeout: number
  maxSessions: number
  /** Most sessions one principal may hold, so that one client cannot take every slot. */
  maxSessionsPerPrincipal?: number
  keepAliveInterval?: number
  now?: () => number
  /** Serve eligible tools/call requests on the fast path (default true). */
  fastToolCalls?: boolean
}

/**
 * Stateful MCP sessions, each bound to the principal that created it. Idle sessions expire
 * (checked on every access and by a periodic sweep) and the number of sessions is capped.
 */
export class SessionStore {
  readonly #sessions = new Map<string, Session>()
  readonly #idleTimeout: number
  readonly #maxSessions: number
  readonly #maxPerOwner: number
  /** Sessions per owner, kept with the map: counting them per initialize would be linear. */
  readonly #perOwner = new Map<string, number>()
  readonly #keepAliveInterval: number
  readonly #now: () => number
  readonly #fastToolCalls: boolean
  readonly #sweeper: NodeJS.Timeout

  constructor (options: SessionStoreOptions) {
    this.#idleTimeout = options.idleTimeout
    this.#maxSessions = options.maxSessions
    this.#maxPerOwner = Math.min(options.maxSessionsPerPrincipal ?? options.maxSessions, options.maxSessions)
    this.#keepAliveInterval = options.keepAliveInterval ?? 25_000
    this.#now = options.now ?? Date.now
    this.#fastToolCalls = options.fastToolCalls ?? true
    this.#sweeper = setInterval(() => { void this.sweep() }, Math.max(1000, Math.min(this.#idleTimeout, 60_000)))
    this.#sweeper.unref()
  }

  get size (): number {
    return this.#sessions.size
  }

  /** Sessions `owner` holds now. */
  countOf (owner: string): number {
    return this.#perOwner.get(owner) ?? 0
  }

  /**
   * Creates a session, or says why it cannot: the store is full (`full`), or this owner already
   * holds its share (`quota`).
   */
  async create (owner: string, createServer: () => MountedServer): Promise<Session | 'full' | 'quota'> {
    const refusal = (): 'full' | 'quota' | undefined =>
      this.#sessions.size >= this.#maxSessions ? 'full' : this.countOf(owner) >= this.#maxPerOwner ? 'quota' : undefined
    if (refusal() !== undefined) await this.sweep()
    const before = refusal()
    if (before !== undefined) return before
    const id = randomUUID()
    const { server, transport } = await connectLegacy(createServer(), { sessionId: id, singleClient: true, fastToolCalls: this.#fastToolCalls })
    // Another initialize may have taken the last slot while this one connected.
    const after = refusal()
    if (after !== undefined) {
      await server.close()
      return after
    }
    const session: Session = { id, owner, server, transport, lastSeen: this.#now(), stream: undefined }
    transport.setOutboundSink((message) => writeEvent(session, message))
    this.#sessions.set(id, session)
    this.#perOwner.set(owner, this.countOf(owner) + 1)
    return session
  }

  /** The live session with this id if `owner` owns it; unknown, expired and foreign ids look alike. */
  get (id: string, owner: string): Session | undefined {
    const session = this.#sessions.get(id)
    if (session === undefined) return undefined
    if (this.#isExpired(session)) {
      void this.delete(id)
      return undefined
    }
    if (session.owner !== owner) return undefined
    session.lastSeen = this.#now()
    return session
  }

  async delete (id: string): Promise<void> {
    const session = this.#sessions.get(id)
    if (session === undefined) return
    this.#sessions.delete(id)
    const left = this.countOf(session.owner) - 1
    if (left > 0) this.#perOwner.set(session.owner, left)
    else this.#perOwner.delete(session.owner)
    session.stream?.end()
    session.stream = undefined
    await session.server.close()
  }

  /** Attaches a GET stream; returns false when the session already has one. */
  attachStream (session: Session, stream: ServerResponse): boolean {
    if (session.stream !== undefined && !session.stream.writableEnded) return false
    session.stream = stream
    const keepAlive = setInterval(() => stream.write(': keepalive\n\n'), this.#keepAliveInterval)
    keepAlive.unref()
    stream.on('close', () => {
      clearInterval(keepAlive)
      if (session.stream === stream) session.stream = undefined
    })
    return true
  }

  async sweep (): Promise<void> {
    for (const session of [...this.#sessions.values()]) {
      if (this.#isExpired(session)) await this.delete(session.id)
    }
  }

  /**
   * Ends every GET stream (they would hold their connections open through a shutdown) and stops
   * new streams; sessions and their requests in flight go on until `close()`.
   */
  endStreams (): void {
    for (const session of this.#sessions.values()) {
      session.stream?.end()
      session.stream = undefined
    }
  }

  async close (): Promise<void> {
    clearInterval(this.#sweeper)
    for (const id of [...this.#sessions.keys()]) await this.delete(id)
  }

  #isExpired (session: Session): boolean {
    return this.#now() - session.lastSeen > this.#idleTimeout
  }
}

function writeEvent (session: Session, message: JSONRPCMessage): boolean {
  const stream = session.stream
  if (stream === undefined || stream.writableEnded) return false
  stream.write(`event: message\ndata: ${JSON.stringify(message)}\n\n`)
  return true
}
