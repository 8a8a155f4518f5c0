import type { JSONRPCMessage, JSONRPCRequest, JSONRPCResponse, RequestId } from '@modelcontextprotocol/server'
import { JsonRpcCode } from '../core/jsonrpc.js'
import type { Principal } from '../core/principal.js'

/**
 * Where the messages about one exchange's requests go ahead of their answers: an HTTP response
 * (mcp/response-channel.ts) or stdout (mcp/stdio.ts).
 */
export interface RelatedChannel {
  /** Sends a message ahead of the answers; false when it cannot be carried. */
  related: (message: JSONRPCMessage) => boolean
  /** Called once if the client goes away before the exchange ended. */
  onClientGone: (listener: () => void) => void
}

interface InFlight {
  callerId: RequestId
  channel: RelatedChannel | undefined
  /** Who sent the request, when known. */
  owner: Principal | undefined
  resolve: (response: JSONRPCResponse) => void
}

/** What became of a message the server sent outside a response. */
export type Routed = 'delivered' | 'unrelated' | 'undeliverable'

// Messages reaching a transport are valid JSON-RPC already (the route checked the client's, the
// SDK built its own), so a property test tells them apart; the SDK's guards parse a schema.
export function isRequest (message: JSONRPCMessage): message is JSONRPCRequest {
  return 'method' in message && 'id' in message
}

export function isResponse (message: JSONRPCMessage): message is JSONRPCResponse {
  return !('method' in message)
}

export function cancelledResponse (id: RequestId): JSONRPCResponse {
  return { jsonrpc: '2.0', id, error: { code: JsonRpcCode.RequestCancelled, message: 'Request cancelled' } }
}

/**
 * The requests a long-lived server is working on for many HTTP exchanges at once.
 *
 * Each request gets a fresh internal id before it reaches the server, and its response is matched
 * back by that id and given the caller's own id again, so two callers that both use id 1 never
 * receive each other's results. Messages the server sends about a request (its `relatedRequestId`
 * is the internal id) go to the response channel of the exchange that carried it. Nothing is kept
 * once a response has been handed back.
 */
export class InFlightRequests {
  #nextId = 1
  readonly #entries = new Map<number, InFlight>()

  get size (): number {
    return this.#entries.size
  }

  /** Registers a request; the promise settles with its response under the caller's id. */
  begin (request: JSONRPCRequest, channel: RelatedChannel | undefined, owner?: Principal): { internalId: number, response: Promise<JSONRPCResponse> } {
    const internalId = this.#nextId
    this.#nextId = internalId >= Number.MAX_SAFE_INTEGER ? 1 : internalId + 1
    const response = new Promise<JSONRPCResponse>((resolve) => {
      this.#entries.set(internalId, { callerId: request.id, channel, owner, resolve })
    })
    return { internalId, response }
  }

  /** Hands a response back to its caller; false when no request of ours has that id. */
  settle (response: JSONRPCResponse): boolean {
    const internalId = response.id
    const entry = typeof internalId === 'number' ? this.#entries.get(internalId) : undefined
    if (entry === undefined) return false
    this.#entries.delete(internalId as number)
    entry.resolve({ ...response, id: entry.callerId })
    return true
  }

  /** Sends a message about an in-flight request to that request's exchange. */
  route (message: JSONRPCMessage, relatedRequestId: RequestId | undefined): Routed {
    if (relatedRequestId === undefined) return 'unrelated'
    const entry = typeof relatedRequestId === 'number' ? this.#entries.get(relatedRequestId) : undefined
    return entry?.channel?.related(message) === true ? 'delivered' : 'undeliverable'
  }

  /** Who sent an in-flight request, when known. */
  ownerOf (internalId: RequestId | undefined): Principal | undefined {
    return typeof internalId === 'number' ? this.#entries.get(internalId)?.owner : undefined
  }

  /** Answers every request still in flight as cancelled (the server is going away). */
  cancelAll (): void {
    for (const internalId of [...this.#entries.keys()]) this.settle(cancelledResponse(internalId))
  }
}
