import type { JSONRPCMessage, JSONRPCRequest, JSONRPCResponse, MessageExtraInfo, RequestId, Transport, TransportSendOptions } from '@modelcontextprotocol/server'
import { cancelledResponse, InFlightRequests, isRequest, isResponse, type RelatedChannel } from './in-flight.js'
import { JsonRpcCode } from '../core/jsonrpc.js'
import type { ToolCallFastPath } from './fast-tool-call.js'

/** Where messages go that belong to no request: a stateful session's GET stream. */
export type OutboundSink = (message: JSONRPCMessage) => boolean

/**
 * The 2025-era transport of a long-lived server (one per principal, or one per stateful session):
 * it serves many HTTP exchanges at once. Messages about a request travel on the response of the
 * POST that carried it; messages about no request go to the session's GET stream, if any.
 */
export class LegacyTransport implements Transport {
  onclose?: () => void
  onerror?: (error: Error) => void
  onmessage?: <T extends JSONRPCMessage>(message: T, extra?: MessageExtraInfo) => void
  sessionId?: string

  readonly #requests = new InFlightRequests()
  /**
   * Caller id → how to cancel that call, for requests in flight. Only kept when one client owns
   * the transport: with several, a caller's id is ambiguous and a cancellation cannot be mapped.
   */
  readonly #cancellers: Map<RequestId, () => void> | undefined
  #sink: OutboundSink | undefined
  #fastPath: ToolCallFastPath | undefined
  #closed = false

  constructor (options: { sessionId?: string, singleClient?: boolean } = {}) {
    if (options.sessionId !== undefined) this.sessionId = options.sessionId
    this.#cancellers = options.singleClient === true ? new Map() : undefined
  }

  setFastPath (fastPath: ToolCallFastPath | undefined): void {
    this.#fastPath = fastPath
  }

  setOutboundSink (sink: OutboundSink | undefined): void {
    this.#sink = sink
  }

  /** Requests dispatched and not yet answered: all the per-request state kept. */
  get inFlightCount (): number {
    return this.#requests.size
  }

  get trackedIdCount (): number {
    return this.#cancellers?.size ?? 0
  }

  async start (): Promise<void> {}

  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#sink = undefined
    this.#requests.cancelAll()
    this.onclose?.()
  }

  /**
   * Hands one POST's messages to the server and resolves with the responses to its requests, in
   * order. Notifications and client responses (to server→client requests) produce no output.
   */
  dispatch (messages: readonly JSONRPCMessage[], extra: MessageExtraInfo, channel?: RelatedChannel): Promise<JSONRPCResponse[]> {
    const pending: Array<Promise<JSONRPCResponse>> = []
    const cancels: Array<() => void> = []
    for (const message of messages) {
      if (isRequest(message)) {
        const { response, cancel } = this.#forward(message, extra, channel)
        pending.push(response)
        cancels.push(cancel)
      } else if ('method' in message && message.method === 'notifications/cancelled') {
        const requestId = message.params?.requestId
        // A cancellation that names no call of ours is dropped.
        if (typeof requestId === 'string' || typeof requestId === 'number') this.#cancellers?.get(requestId)?.()
      } else {
        this.onmessage?.(message, extra)
      }
    }
    channel?.onClientGone(() => { for (const cancel of cancels) cancel() })
    return Promise.all(pending)
  }

  async send (message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    if (isResponse(message)) {
      this.#requests.settle(message)
      return
    }
    // Direct calls rely on the registrations the server handed over; once its tools change
    // (removed, renamed, replaced), every call goes through the SDK's own tool table.
    if (message.method === 'notifications/tools/list_changed') this.#fastPath = undefined
    const routed = this.#requests.route(message, options?.relatedRequestId)
    if (routed === 'delivered') return
    if (routed === 'unrelated' && this.#sink?.(message) === true) return
    if (isRequest(message)) {
      // Nobody can answer this server request (no stream takes it): fail it now instead of
      // letting the tool wait for its timeout.
      queueMicrotask(() => this.onmessage?.({
        jsonrpc: '2.0',
        id: message.id,
        error: { code: JsonRpcCode.ServerRequestUndeliverable, message: 'The client has no open stream for server requests' }
      }))
    }
  }

  #forward (request: JSONRPCRequest, extra: MessageExtraInfo, channel: RelatedChannel | undefined): { response: Promise<JSONRPCResponse>, cancel: () => void } {
    const { internalId, response } = this.#requests.begin(request, channel)
    let abort: AbortController | undefined
    const cancel = (): void => {
      if (abort !== undefined) abort.abort()
      else this.onmessage?.({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: internalId } }, extra)
      // A cancelled request gets no response from the server, but its HTTP exchange needs one.
      this.#requests.settle(cancelledResponse(internalId))
    }
    const cancellers = this.#cancellers
    if (cancellers !== undefined) {
      cancellers.set(request.id, cancel)
      void response.finally(() => cancellers.delete(request.id))
    }
    const fast = this.#fastPath?.tryCall(request, internalId, extra, () => (abort ??= new AbortController()).signal)
    if (fast === undefined) this.onmessage?.({ ...request, id: internalId }, extra)
    else fast.then((answer) => this.#requests.settle(answer), () => this.#requests.settle(cancelledResponse(internalId)))
    return { response, cancel }
  }
}
