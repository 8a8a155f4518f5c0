import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js'
import type { JSONRPCMessage, JSONRPCRequest, JSONRPCResponse, MessageExtraInfo, RequestId } from '@modelcontextprotocol/sdk/types.js'
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { FastToolCaller } from './fast-tool-call.js'

// Messages reaching this transport are already valid JSON-RPC: client messages were checked
// against the SDK's schema by the route, and server messages come from the SDK. So a property
// test tells them apart; the SDK's is*() helpers would run a schema parse each time.
function isRequest (message: JSONRPCMessage): message is JSONRPCRequest {
  return 'method' in message && 'id' in message
}

function isResponse (message: JSONRPCMessage): message is JSONRPCResponse {
  return !('method' in message)
}

/** Where messages go that the server sends outside of a response: notifications and server requests. */
export type OutboundSink = (message: JSONRPCMessage) => boolean

interface InFlight {
  originalId: RequestId
  resolve: (response: JSONRPCResponse) => void
}

const SERVER_REQUEST_UNDELIVERABLE = -32001
const REQUEST_CANCELLED = -32800

/**
 * A transport that serves many HTTP requests over one connected MCP server.
 *
 * Each incoming JSON-RPC request gets a fresh internal id before it reaches the server, and its
 * response is matched back by that id and given the caller's own id again. Two callers that both
 * use id 1 can therefore never receive each other's results, and nothing is kept once a response
 * has been handed back. The caller's principal travels with each message as `authInfo`.
 */
export class HttpMultiplexTransport implements Transport {
  onclose?: () => void
  onerror?: (error: Error) => void
  onmessage?: <T extends JSONRPCMessage>(message: T, extra?: MessageExtraInfo) => void
  sessionId?: string

  #nextId = 1
  readonly #inFlight = new Map<number, InFlight>()
  /**
   * Caller id → how to cancel that call, for requests in flight. Only kept when one client owns
   * the transport: with several, a caller's id is ambiguous and a cancellation cannot be mapped.
   */
  readonly #cancellers: Map<RequestId, (params: Record<string, unknown>) => void> | undefined
  #sink: OutboundSink | undefined
  #fastPath: FastToolCaller | undefined
  #closed = false

  constructor (options: { sessionId?: string, singleClient?: boolean } = {}) {
    if (options.sessionId !== undefined) this.sessionId = options.sessionId
    this.#cancellers = options.singleClient === true ? new Map() : undefined
  }

  /** Serves eligible `tools/call` requests directly (see fast-tool-call.ts). */
  setFastPath (fastPath: FastToolCaller | undefined): void {
    this.#fastPath = fastPath
  }

  /** Routes server-initiated messages (for example to a session's SSE stream); undefined drops them. */
  setOutboundSink (sink: OutboundSink | undefined): void {
    this.#sink = sink
  }

  /** Requests dispatched and not yet answered; with the id map below, all the per-request state kept. */
  get inFlightCount (): number {
    return this.#inFlight.size
  }

  get trackedIdCount (): number {
    return this.#cancellers?.size ?? 0
  }

  async start (): Promise<void> {}

  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#sink = undefined
    this.onclose?.()
  }

  /**
   * Hands a batch of client messages to the server and resolves with the responses to its
   * requests, in order. Notifications and responses from the client produce no output.
   */
  dispatch (messages: readonly JSONRPCMessage[], extra: MessageExtraInfo): Promise<JSONRPCResponse[]> {
    const pending: Array<Promise<JSONRPCResponse>> = []
    for (const message of messages) {
      if (isRequest(message)) {
        pending.push(this.#callFast(message, extra) ?? this.#forwardRequest(message, extra))
      } else if ('method' in message && message.method === 'notifications/cancelled') {
        const requestId = message.params?.requestId
        // A cancellation that names no call of ours is dropped.
        if (typeof requestId === 'string' || typeof requestId === 'number') this.#cancellers?.get(requestId)?.(message.params ?? {})
      } else {
        this.onmessage?.(message, extra)
      }
    }
    return Promise.all(pending)
  }

  async send (message: JSONRPCMessage): Promise<void> {
    if (isResponse(message)) {
      const internalId = message.id
      const call = typeof internalId === 'number' ? this.#inFlight.get(internalId) : undefined
      if (call === undefined) return
      this.#inFlight.delete(internalId as number)
      this.#cancellers?.delete(call.originalId)
      call.resolve({ ...message, id: call.originalId })
      return
    }
    const delivered = this.#sink?.(message) ?? false
    if (!delivered && isRequest(message)) {
      // Nobody can answer a server request here (stateless, or no open stream): fail it now
      // instead of letting the tool wait for its timeout.
      queueMicrotask(() => this.onmessage?.({
        jsonrpc: '2.0',
        id: message.id,
        error: { code: SERVER_REQUEST_UNDELIVERABLE, message: 'The client has no open stream for server requests' }
      }))
    }
  }

  #newId (): number {
    const id = this.#nextId
    this.#nextId = id >= Number.MAX_SAFE_INTEGER ? 1 : id + 1
    return id
  }

  #forwardRequest (request: JSONRPCRequest, extra: MessageExtraInfo): Promise<JSONRPCResponse> {
    const internalId = this.#newId()
    return new Promise((resolve) => {
      this.#inFlight.set(internalId, { originalId: request.id, resolve })
      this.#cancellers?.set(request.id, (params) => {
        this.onmessage?.({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { ...params, requestId: internalId } }, extra)
        // A cancelled request gets no response from the server, but its HTTP request still needs one.
        void this.send({ jsonrpc: '2.0', id: internalId, error: { code: REQUEST_CANCELLED, message: 'Request cancelled' } })
      })
      this.onmessage?.({ ...request, id: internalId }, extra)
    })
  }

  #callFast (request: JSONRPCRequest, extra: MessageExtraInfo): Promise<JSONRPCResponse> | undefined {
    if (this.#fastPath === undefined) return undefined
    let controller: AbortController | undefined
    const abortController = (): AbortController => (controller ??= new AbortController())
    const response = this.#fastPath.tryCall(request, { requestId: this.#newId(), sessionId: this.sessionId, extra, signal: () => abortController().signal })
    const cancellers = this.#cancellers
    if (response === undefined || cancellers === undefined) return response
    cancellers.set(request.id, () => abortController().abort())
    return response.finally(() => cancellers.delete(request.id))
  }
}

/**
 * Connects `server` to a new multiplexing transport, with the tools/call fast path unless turned
 * off: what both the stateless server pool and the stateful sessions need.
 */
export async function connectMultiplexed (
  server: McpServer,
  options: { sessionId?: string, singleClient?: boolean, fastToolCalls: boolean }
): Promise<HttpMultiplexTransport> {
  const transport = new HttpMultiplexTransport(options)
  await server.connect(transport)
  if (options.fastToolCalls) transport.setFastPath(new FastToolCaller(server))
  return transport
}
