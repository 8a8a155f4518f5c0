import {
  CLIENT_CAPABILITIES_META_KEY, PROTOCOL_VERSION_META_KEY, SERVER_INFO_META_KEY,
  type AuthInfo, type Implementation, type JSONRPCRequest, type McpServer, type ServerCapabilities
} from '@modelcontextprotocol/server'
import { DirectToolCalls } from './fast-tool-call.js'
import { LegacyTransport } from './legacy-transport.js'
import { ListenStreams } from './listen.js'
import { ModernTransport } from './modern-transport.js'
import { paramHeaderRules, type ParamHeaderRule } from './param-headers.js'
import { MODERN_PROTOCOL_VERSION } from './protocol-versions.js'
import type { MountedServer } from './server.js'

/** A server connected for the 2025 revisions. */
export interface LegacyEndpoint {
  server: McpServer
  transport: LegacyTransport
}

export async function connectLegacy (
  mounted: MountedServer,
  options: { sessionId?: string, singleClient?: boolean, fastToolCalls: boolean }
): Promise<LegacyEndpoint> {
  const transport = new LegacyTransport(options)
  await mounted.server.connect(transport)
  if (options.fastToolCalls && mounted.directTools !== undefined) {
    transport.setFastPath(new DirectToolCalls({ tools: mounted.directTools, era: 'legacy' }))
  }
  return { server: mounted.server, transport }
}

const NO_RULES: readonly ParamHeaderRule[] = Object.freeze([])

/** The `_meta` envelope of requests this project sends to its own servers. */
const OWN_ENVELOPE = { [PROTOCOL_VERSION_META_KEY]: MODERN_PROTOCOL_VERSION, [CLIENT_CAPABILITIES_META_KEY]: {} }

function ownRequest (method: string, params: Record<string, unknown> = {}): JSONRPCRequest {
  return { jsonrpc: '2.0', id: 0, method, params: { ...params, _meta: OWN_ENVELOPE } }
}

/**
 * A server connected for the 2026-07-28 revision, with what the route must know about it: its
 * capabilities (for `subscriptions/listen`), its tools' `Mcp-Param-*` headers (kept until the
 * server says its tools changed), and its open listen streams. What it knows it asks the server
 * through the protocol itself (`server/discover`, `tools/list`), as a client would.
 */
export class ModernEndpoint {
  readonly server: McpServer
  readonly transport: ModernTransport
  readonly listen = new ListenStreams()
  readonly #authInfo: AuthInfo | undefined
  #capabilities: ServerCapabilities = {}
  #paramRules: Promise<Map<string, ParamHeaderRule[]>> | undefined
  /** The rules once loaded, so that most calls need no await. */
  #loadedRules: Map<string, ParamHeaderRule[]> | undefined

  private constructor (server: McpServer, transport: ModernTransport, authInfo: AuthInfo | undefined) {
    this.server = server
    this.transport = transport
    this.#authInfo = authInfo
  }

  /** Connects a server for the modern era; undefined when it does not list that revision. */
  static async connect (mounted: MountedServer, options: { fastToolCalls: boolean, authInfo?: AuthInfo }): Promise<ModernEndpoint | undefined> {
    const transport = new ModernTransport()
    await mounted.server.connect(transport)
    if (mounted.server.server.getNegotiatedProtocolVersion() !== MODERN_PROTOCOL_VERSION) {
      await mounted.server.close()
      return undefined
    }
    const endpoint = new ModernEndpoint(mounted.server, transport, options.authInfo)
    transport.setUnrelatedSink((notification) => {
      if (notification.method === 'notifications/tools/list_changed') {
        endpoint.#paramRules = undefined
        endpoint.#loadedRules = undefined
      }
      endpoint.listen.deliver(notification)
    })
    const serverInfo = await endpoint.#discover()
    if (options.fastToolCalls && mounted.directTools !== undefined) {
      transport.setFastPath(new DirectToolCalls({ tools: mounted.directTools, era: 'modern', serverInfo }))
    }
    return endpoint
  }

  get capabilities (): ServerCapabilities {
    return this.#capabilities
  }

  /** The `Mcp-Param-*` headers a call of `tool` must carry (synchronously once they are known). */
  paramRulesFor (tool: string): readonly ParamHeaderRule[] | Promise<readonly ParamHeaderRule[]> {
    if (this.#loadedRules !== undefined) return this.#loadedRules.get(tool) ?? NO_RULES
    const loading = this.#paramRules ??= this.#loadParamRules()
    return loading.then((rules) => {
      if (this.#paramRules === loading) this.#loadedRules = rules
      return rules.get(tool) ?? NO_RULES
    })
  }

  async close (): Promise<void> {
    this.listen.close()
    await this.server.close()
  }

  async #discover (): Promise<Implementation | undefined> {
    const { response } = await this.transport.dispatch(ownRequest('server/discover'), this.#extra())
    if (!('result' in response)) return undefined
    const result = response.result as { capabilities?: ServerCapabilities, _meta?: Record<string, unknown> }
    this.#capabilities = result.capabilities ?? {}
    return result._meta?.[SERVER_INFO_META_KEY] as Implementation | undefined
  }

  async #loadParamRules (): Promise<Map<string, ParamHeaderRule[]>> {
    const rules = new Map<string, ParamHeaderRule[]>()
    if (this.#capabilities.tools === undefined) return rules
    let cursor: string | undefined
    do {
      const { response } = await this.transport.dispatch(ownRequest('tools/list', cursor === undefined ? {} : { cursor }), this.#extra())
      if (!('result' in response)) return rules
      const page = response.result as { tools?: Array<{ name?: unknown, inputSchema?: unknown }>, nextCursor?: unknown }
      for (const tool of page.tools ?? []) {
        const found = paramHeaderRules(tool.inputSchema)
        if (typeof tool.name === 'string' && found.length > 0) rules.set(tool.name, found)
      }
      cursor = typeof page.nextCursor === 'string' ? page.nextCursor : undefined
    } while (cursor !== undefined)
    return rules
  }

  #extra (): { authInfo?: AuthInfo } {
    return this.#authInfo === undefined ? {} : { authInfo: this.#authInfo }
  }
}
