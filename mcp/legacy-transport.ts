import type { JSONRPCMessage, JSONRPCRequest, JSONRPCResponse, MessageExtraInfo, RequestId, Transport, TransportSendOptions } from '@modelcontextprotocol/server'
import { cancelledResponse, InFlightRequests, isRequest, isResponse, type RelatedChannel } from './in-flight.js'
import { JsonRpcCode } from '../core/jsonrpc.js'
import { principalKey, type Principal } from '../core/principal.js'
import type { ToolCallFastPath } from './fast-tool-call.js'

function isPrincipal (value: unknown): value is Principal {
  return typeof value === 'object' && value !== null && typeof Reflect.get(value, 'id') === 'string' && typeof Reflect.get(value, 'strategy') === 'string'
}

/** The principal a message came from, as the route passes it (`toAuthInfo`). */
function senderOf (extra: MessageExtraInfo): Principal | undefined {
  const principal: unknown = extra.authInfo?.extra?.principal
  return isPrincipal(principal) ? principal : undefined
}

/** Server requests whose answers are awaited at once, at most (older ones are forgotten, and then answered by no one). */
const MAX_ASKED = 10_000

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
  /**
   * Server→client requests sent on a caller's exchange, and that caller: only its answer reaches
   * the server. On a server shared by several principals, another one could otherwise answer
   * (the server numbers its requests 0, 1, 2, …).
   */
  readonly #askedOf = new Map<RequestId, Principal>()
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
      } else if (this.#fromAskedClient(message, extra)) {
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
    if (routed === 'delivered') {
      const owner = this.#requests.ownerOf(options?.relatedRequestId)
      if (isRequest(message) && owner !== undefined) this.#remember(message.id, owner)
      return
    }
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

  /** A client's answer to a server request is taken only from the principal it was asked of. */
  #fromAskedClient (message: JSONRPCMessage, extra: MessageExtraInfo): boolean {
    if (!isResponse(message) || message.id === undefined) return true
    const asked = this.#askedOf.get(message.id)
    if (asked === undefined) return true
    const sender = senderOf(extra)
    if (sender === undefined || principalKey(sender) !== principalKey(asked)) return false
    this.#askedOf.delete(message.id)
    return true
  }

  #remember (id: RequestId, owner: Principal): void {
    this.#askedOf.set(id, owner)
    if (this.#askedOf.size > MAX_ASKED) this.#askedOf.delete(this.#askedOf.keys().next().value as RequestId)
  }

  #forward (request: JSONRPCRequest, extra: MessageExtraInfo, channel: RelatedChannel | undefined): { response: Promise<JSONRPCResponse>, cancel: () => void } {
    const { internalId, response } = this.#requests.begin(request, channel, senderOf(extra))
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
