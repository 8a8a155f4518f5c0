import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js'
import type { JSONRPCMessage, JSONRPCResponse, MessageExtraInfo, RequestId } from '@modelcontextprotocol/sdk/types.js'
import { toAuthInfo, type Principal } from '../plugins/auth/principal.js'
import { deniedResponse, type ToolAccess } from './tool-access.js'

/**
 * Wraps a stdio transport for one principal, fixed when the process started (stdio servers take
 * their credentials from the environment, not from each message). Every message reaches the
 * server with that principal as `authInfo`, and the same per-tool access rules as over HTTP apply:
 * tools/list hides what the principal may not use, and a tools/call of it is answered with the
 * permission error without reaching the server.
 */
export class PrincipalTransport implements Transport {
  onclose?: () => void
  onerror?: (error: Error) => void
  onmessage?: <T extends JSONRPCMessage>(message: T, extra?: MessageExtraInfo) => void

  readonly #inner: Transport
  readonly #principal: Principal
  readonly #access: ToolAccess
  readonly #extra: MessageExtraInfo
  readonly #toolLists = new Set<RequestId>()

  constructor (inner: Transport, principal: Principal, access: ToolAccess) {
    this.#inner = inner
    this.#principal = principal
    this.#access = access
    this.#extra = { authInfo: toAuthInfo(principal) }
  }

  async start (): Promise<void> {
    this.#inner.onclose = () => this.onclose?.()
    this.#inner.onerror = (error) => this.onerror?.(error)
    this.#inner.onmessage = (message) => { void this.#receive(message) }
    await this.#inner.start()
  }

  async #receive (message: JSONRPCMessage): Promise<void> {
    if ('method' in message && 'id' in message) {
      if (message.method === 'tools/list') this.#toolLists.add(message.id)
      const denied = await this.#access.deniedCalls([message], this.#principal)
      if (denied[0] !== undefined) {
        await this.#inner.send(deniedResponse(denied[0]))
        return
      }
    }
    this.onmessage?.(message, this.#extra)
  }

  async send (message: JSONRPCMessage): Promise<void> {
    if ('id' in message && !('method' in message) && message.id !== undefined && this.#toolLists.delete(message.id)) {
      await this.#inner.send(await this.#access.filterToolList(message as JSONRPCResponse, this.#principal))
      return
    }
    await this.#inner.send(message)
  }

  async close (): Promise<void> {
    await this.#inner.close()
  }
}
