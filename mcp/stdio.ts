import { classifyInboundRequest, type JSONRPCMessage, type JSONRPCRequest, type JSONRPCResponse, type RequestId, type Transport } from '@modelcontextprotocol/server'
import { toAuthInfo, type Principal } from '../core/principal.js'
import { connectLegacy, ModernEndpoint, type LegacyEndpoint } from './endpoints.js'
import type { RelatedChannel } from './in-flight.js'
import { JsonRpcCode } from '../core/jsonrpc.js'
import { acknowledgedFilter, type ListenChannel } from './listen.js'
import { MODERN_PROTOCOL_VERSIONS, type ProtocolEra } from './protocol-versions.js'
import { mountedServer, type CreateMcpServer } from './server.js'
import { deniedResponse, type ToolAccess } from './tool-access.js'

export interface StdioBridgeOptions {
  /** The framing: the SDK's `StdioServerTransport` on stdin/stdout. */
  wire: Transport
  /** Fixed when the process started: stdio servers take their credentials from the environment. */
  principal: Principal
  createServer: CreateMcpServer
  access: ToolAccess
  fastToolCalls?: boolean
}

function errorResponse (id: RequestId, code: number, message: string, data?: unknown): JSONRPCResponse {
  return { jsonrpc: '2.0', id, error: data === undefined ? { code, message } : { code, message, data } }
}

/**
 * MCP over stdio for one principal, in both eras at once (`basic/versioning.mdx` allows a process
 * to serve both): a message with the 2026-07-28 `_meta` envelope goes to the principal's modern
 * server, anything else (starting with `initialize`) to its 2025 server. Every request carries
 * the principal as auth info, and the per-tool access rules are the HTTP route's: tools/list
 * hides what the principal may not use, and a tools/call of it is refused before any server sees it.
 */
export class StdioBridge {
  readonly #options: StdioBridgeOptions
  readonly #extra
  #legacy: Promise<LegacyEndpoint> | undefined
  #modern: Promise<ModernEndpoint | undefined> | undefined
  /** Caller id → how to cancel it, for modern requests in flight (legacy ones: the transport's own map). */
  readonly #cancels = new Map<RequestId, () => void>()

  constructor (options: StdioBridgeOptions) {
    this.#options = options
    this.#extra = { authInfo: toAuthInfo(options.principal) }
  }

  async start (): Promise<void> {
    const wire = this.#options.wire
    wire.onmessage = (message) => { void this.#receive(message) }
    wire.onclose = () => { void this.close() }
    await wire.start()
  }

  async close (): Promise<void> {
    const [legacy, modern] = await Promise.all([this.#legacy, this.#modern])
    this.#legacy = undefined
    this.#modern = undefined
    await legacy?.server.close()
    await modern?.close()
  }

  #send (message: JSONRPCMessage): void {
    void this.#options.wire.send(message)
  }

  /** A channel that writes related messages straight to stdout; cancelling it is the client's notification. */
  #channel (id: RequestId): ListenChannel {
    return {
      related: (message) => { this.#send(message); return true },
      onClientGone: (listener) => { this.#cancels.set(id, listener) },
      comment: () => {},
      finish: (_status, body) => { this.#send(body) }
    }
  }

  async #receive (message: JSONRPCMessage): Promise<void> {
    const route = classifyInboundRequest({ httpMethod: 'POST', body: message })
    const id = 'id' in message && 'method' in message ? message.id : undefined
    if (route.kind === 'reject') {
      if (id !== undefined) this.#send(errorResponse(id, route.code, route.message, route.data))
      return
    }
    if (route.kind === 'legacy') return await this.#serveLegacy(message)
    const requested = route.classification.revision
    if (requested === undefined || !MODERN_PROTOCOL_VERSIONS.includes(requested)) {
      if (id !== undefined) {
        this.#send(errorResponse(id, JsonRpcCode.UnsupportedProtocolVersion, `Unsupported protocol version: ${requested ?? '(none)'}`,
          { supported: [...MODERN_PROTOCOL_VERSIONS], requested: requested ?? '' }))
      }
      return
    }
    await this.#serveModern(route.message)
  }

  async #serveLegacy (message: JSONRPCMessage): Promise<void> {
    this.#legacy ??= connectLegacy(this.#created('legacy'), { singleClient: true, fastToolCalls: this.#options.fastToolCalls ?? true })
    const { transport } = await this.#legacy
    if (await this.#denied(message)) return
    const channel: RelatedChannel = { related: (related) => { this.#send(related); return true }, onClientGone: () => {} }
    const [response] = await transport.dispatch([message], this.#extra, channel)
    if (response !== undefined) this.#send(await this.#filtered(message, response, 'legacy'))
  }

  async #serveModern (message: JSONRPCMessage): Promise<void> {
    if (!('method' in message)) return
    if (!('id' in message)) {
      if (message.method === 'notifications/cancelled') {
        const requestId = (message.params as { requestId?: unknown } | undefined)?.requestId
        if (typeof requestId === 'string' || typeof requestId === 'number') this.#cancels.get(requestId)?.()
        return
      }
      const endpoint = await this.#modernEndpoint()
      endpoint?.transport.notify(message, this.#extra)
      return
    }
    const endpoint = await this.#modernEndpoint()
    if (endpoint === undefined) {
      this.#send(errorResponse(message.id, JsonRpcCode.UnsupportedProtocolVersion, 'Unsupported protocol version: this server speaks the 2025 revisions only; send initialize'))
      return
    }
    if (message.method === 'subscriptions/listen') {
      const filter = acknowledgedFilter((message.params as { notifications?: unknown } | undefined)?.notifications, endpoint.capabilities)
      endpoint.listen.open(message.id, filter, this.#channel(message.id))
      return
    }
    if (await this.#denied(message)) return
    try {
      const { response } = await endpoint.transport.dispatch(message, this.#extra, this.#channel(message.id))
      this.#send(await this.#filtered(message, response, 'modern'))
    } finally {
      this.#cancels.delete(message.id)
    }
  }

  async #modernEndpoint (): Promise<ModernEndpoint | undefined> {
    this.#modern ??= ModernEndpoint.connect(this.#created('modern'), { fastToolCalls: this.#options.fastToolCalls ?? true, authInfo: this.#extra.authInfo })
    return await this.#modern
  }

  #created (era: ProtocolEra) {
    return mountedServer(this.#options.createServer({ principal: this.#options.principal, era }))
  }

  /** Answers a tools/call the principal may not make with the permission error; true when it did. */
  async #denied (message: JSONRPCMessage): Promise<boolean> {
    if (!('method' in message && 'id' in message)) return false
    const [denied] = await this.#options.access.deniedCalls([message as JSONRPCRequest], this.#options.principal)
    if (denied === undefined) return false
    this.#send(deniedResponse(denied))
    return true
  }

  async #filtered (message: JSONRPCMessage, response: JSONRPCResponse, era: ProtocolEra): Promise<JSONRPCResponse> {
    if (!('method' in message) || message.method !== 'tools/list') return response
    return await this.#options.access.filterToolList(response, this.#options.principal, era)
  }
}
