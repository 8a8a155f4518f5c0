import {
  PerRequestHTTPServerTransport,
  type JSONRPCMessage, type JSONRPCNotification, type JSONRPCRequest, type JSONRPCResponse, type MessageExtraInfo, type TransportSendOptions
} from '@modelcontextprotocol/server'
import { cancelledResponse, InFlightRequests, isRequest, isResponse, type RelatedChannel } from './in-flight.js'
import { JsonRpcCode } from '../core/jsonrpc.js'
import { MODERN_PROTOCOL_VERSION } from './protocol-versions.js'
import type { ToolCallFastPath } from './fast-tool-call.js'

const CLASSIFICATION = Object.freeze({ era: 'modern', revision: MODERN_PROTOCOL_VERSION } as const)

/**
 * HTTP statuses of errors the protocol layer answers before any handler runs (the spec's status
 * table for 2026-07-28); a handler's own errors, invalid params among them, are answered in-band
 * with 200.
 */
const GATE_STATUS: Readonly<Record<number, number>> = {
  [JsonRpcCode.ParseError]: 400,
  [JsonRpcCode.InvalidRequest]: 400,
  [JsonRpcCode.MethodNotFound]: 404,
  [JsonRpcCode.HeaderMismatch]: 400,
  [JsonRpcCode.MissingRequiredClientCapability]: 400,
  [JsonRpcCode.UnsupportedProtocolVersion]: 400
}

export interface ModernAnswer {
  response: JSONRPCResponse
  /** 200, or the status of an error the protocol layer raised before the handler ran. */
  status: number
}

/** Where messages go that belong to no request: the principal's `subscriptions/listen` streams. */
export type UnrelatedSink = (message: JSONRPCNotification) => void

/**
 * The 2026-07-28 transport of a long-lived server: one per principal, serving every modern POST of
 * that principal. Each request is delivered with its own auth info and classification, and
 * messages about it go to its own response channel.
 *
 * Why a subclass: the SDK binds a server to the modern era only when it connects to a
 * `PerRequestHTTPServerTransport` (its entries do the binding through functions it does not
 * export), and its per-request transport serves one exchange and is then spent, which would mean
 * a server per request. Subclassing keeps the documented binding and overrides every method the
 * server calls, so none of the base class's single-exchange state is used. The SDK version is
 * pinned, and test/mcp/modern-era.test.ts fails if the binding stops happening.
 */
export class ModernTransport extends PerRequestHTTPServerTransport {
  readonly #requests = new InFlightRequests()
  #fastPath: ToolCallFastPath | undefined
  #unrelated: UnrelatedSink | undefined
  /** The window in which the protocol layer answers synchronously: its gate errors. */
  #delivering = false
  #gateErrors = new Set<number>()
  #closed = false

  constructor () {
    super({ classification: CLASSIFICATION })
  }

  setFastPath (fastPath: ToolCallFastPath | undefined): void {
    this.#fastPath = fastPath
  }

  setUnrelatedSink (sink: UnrelatedSink | undefined): void {
    this.#unrelated = sink
  }

  get inFlightCount (): number {
    return this.#requests.size
  }

  override async start (): Promise<void> {}

  override async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#requests.cancelAll()
    this.onclose?.()
  }

  /** Delivers a notification; modern notifications get no answer. */
  notify (message: JSONRPCNotification, extra: MessageExtraInfo): void {
    this.onmessage?.(message, { ...extra, classification: CLASSIFICATION })
  }

  /** Serves one request; related messages go to `channel` ahead of the answer. */
  dispatch (request: JSONRPCRequest, extra: MessageExtraInfo, channel?: RelatedChannel): Promise<ModernAnswer> {
    const { internalId, response } = this.#requests.begin(request, channel)
    let abort: AbortController | undefined
    // Closing the response stream is how a modern client cancels (there is no notification).
    channel?.onClientGone(() => {
      if (abort !== undefined) abort.abort()
      else this.onmessage?.({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: internalId } }, { ...extra, classification: CLASSIFICATION })
      this.#requests.settle(cancelledResponse(internalId))
    })
    const fast = this.#fastPath?.tryCall(request, internalId, extra, () => (abort ??= new AbortController()).signal)
    if (fast === undefined) this.#deliver({ ...request, id: internalId }, { ...extra, classification: CLASSIFICATION })
    else fast.then((answer) => this.#requests.settle(answer), () => this.#requests.settle(cancelledResponse(internalId)))
    return response.then((answer) => ({ response: answer, status: this.#statusOf(internalId, answer) }))
  }

  /** Hands a request to the server; what it answers while this runs comes from its gates. */
  #deliver (request: JSONRPCRequest, extra: MessageExtraInfo): void {
    this.#delivering = true
    try {
      this.onmessage?.(request, extra)
    } finally {
      this.#delivering = false
    }
  }

  override async send (message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    if (isResponse(message)) {
      if (this.#delivering && 'error' in message && typeof message.id === 'number') this.#gateErrors.add(message.id)
      this.#requests.settle(message)
      return
    }
    // Direct calls rely on the registrations the server handed over; once its tools change
    // (removed, renamed, replaced), every call goes through the SDK's own tool table.
    if (message.method === 'notifications/tools/list_changed') this.#fastPath = undefined
    const routed = this.#requests.route(message, options?.relatedRequestId)
    // Server→client requests do not exist in this era (input travels as input_required results).
    if (routed === 'unrelated' && !isRequest(message)) this.#unrelated?.(message)
  }

  #statusOf (internalId: number, answer: JSONRPCResponse): number {
    const gate = this.#gateErrors.delete(internalId)
    if (!('error' in answer)) return 200
    // The spec requires 400 for a missing client capability wherever it is raised.
    if (answer.error.code === JsonRpcCode.MissingRequiredClientCapability) return 400
    return gate ? GATE_STATUS[answer.error.code] ?? 200 : 200
  }
}
