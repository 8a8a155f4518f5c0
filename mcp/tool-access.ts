import type { JSONRPCMessage, JSONRPCResponse, RequestId } from '@modelcontextprotocol/server'
import type { Principal } from '../core/principal.js'
import { calledToolName, JsonRpcCode } from '../core/jsonrpc.js'
import { mayUse, permissionCheck, requiredPermission, type AccessCheck, type ScopeHierarchy, type ToolPermissionOptions } from '../core/permissions.js'
import type { ProtocolEra } from './protocol-versions.js'
import { andThen, type MaybePromise } from '../core/maybe-async.js'

/** JSON-RPC error code for a tools/call the principal may not make. */
export const PERMISSION_DENIED = JsonRpcCode.PermissionDenied

export interface DeniedCall {
  id: RequestId
  tool: string
  permission: string
}

export interface ToolAccessOptions extends ToolPermissionOptions {
  check?: AccessCheck | undefined
  hierarchy?: ScopeHierarchy | undefined
}

function toolCalled (message: JSONRPCMessage): { id: RequestId, name: string } | undefined {
  const name = calledToolName(message)
  if (name === undefined || !('id' in message) || message.id === undefined) return undefined
  return { id: message.id, name }
}

export function deniedResponse (denied: DeniedCall): JSONRPCResponse {
  return {
    jsonrpc: '2.0',
    id: denied.id,
    error: { code: PERMISSION_DENIED, message: `Permission denied: ${denied.permission}`, data: { permission: denied.permission } }
  }
}

/**
 * The per-tool access decision, applied to both `tools/list` (tools the principal may not use are
 * left out) and `tools/call` (a call of one is refused before it reaches the server). One check
 * serves both, and it fails closed.
 */
export class ToolAccess {
  readonly #options: ToolPermissionOptions
  readonly #check: AccessCheck

  constructor (options: ToolAccessOptions) {
    this.#options = { prefix: options.prefix, overrides: { ...options.overrides } }
    this.#check = options.check ?? permissionCheck(options.hierarchy)
  }

  permissionFor (tool: string): string {
    return requiredPermission(tool, this.#options)
  }

  /** The tools/call requests among `messages` that `principal` may not make. */
  deniedCalls (messages: readonly JSONRPCMessage[], principal: Principal): MaybePromise<DeniedCall[]> {
    const denied: DeniedCall[] = []
    const pending: Array<Promise<void>> = []
    for (const message of messages) {
      const call = toolCalled(message)
      if (call === undefined) continue
      const permission = this.permissionFor(call.name)
      const decided = andThen(mayUse(this.#check, principal, call.name, permission), (allowed) => {
        if (!allowed) denied.push({ id: call.id, tool: call.name, permission })
      })
      if (decided !== undefined) pending.push(decided)
    }
    return pending.length === 0 ? denied : Promise.all(pending).then(() => denied)
  }

  /**
   * A tools/list response with only the tools `principal` may use. Such a list differs per
   * principal, so in the 2026-07-28 era it is marked for private caching only.
   */
  async filterToolList (response: JSONRPCResponse, principal: Principal, era: ProtocolEra = 'legacy'): Promise<JSONRPCResponse> {
    if (!('result' in response)) return response
    const tools = (response.result as { tools?: unknown }).tools
    if (!Array.isArray(tools)) return response
    const visible = await Promise.all(tools.map(async (tool: { name?: unknown }) =>
      typeof tool.name === 'string' && await mayUse(this.#check, principal, tool.name, this.permissionFor(tool.name))))
    const result = { ...response.result, tools: tools.filter((_tool, index) => visible[index]) }
    return { ...response, result: era === 'modern' ? { ...result, cacheScope: 'private' } : result }
  }
}
