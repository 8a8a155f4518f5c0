import {
  CLIENT_CAPABILITIES_META_KEY, PROTOCOL_VERSION_META_KEY, SERVER_INFO_META_KEY,
  type AuthInfo, type Implementation, type JSONRPCRequest, type JSONRPCResponse, type McpServer, type RegisteredTool, type ServerCapabilities
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
    const listed = await listedTools(async (request) => (await transport.dispatch([request], {}))[0])
    transport.setFastPath(new DirectToolCalls({ tools: stillListed(mounted.directTools, listed), era: 'legacy' }))
  }
  return { server: mounted.server, transport }
}

interface ListedTool {
  name: string
  inputSchema?: unknown
}

/** The server's tools, as a client would list them (every page); none when it cannot list. */
async function listedTools (send: (request: JSONRPCRequest) => Promise<JSONRPCResponse | undefined>, envelope?: Record<string, unknown>): Promise<ListedTool[]> {
  const tools: ListedTool[] = []
  let cursor: string | undefined
  do {
    const params = { ...(cursor === undefined ? {} : { cursor }), ...(envelope === undefined ? {} : { _meta: envelope }) }
    const response = await send({ jsonrpc: '2.0', id: 0, method: 'tools/list', params })
    if (response === undefined || !('result' in response)) return tools
    const page = response.result as { tools?: unknown[], nextCursor?: unknown }
    for (const tool of page.tools ?? []) {
      const name = (tool as { name?: unknown }).name
      if (typeof name === 'string') tools.push({ name, inputSchema: (tool as { inputSchema?: unknown }).inputSchema })
    }
    cursor = typeof page.nextCursor === 'string' ? page.nextCursor : undefined
  } while (cursor !== undefined)
  return tools
}

/**
 * The direct tools the server still lists under the names they were handed over with: one
 * removed or renamed before the server was returned is left to the SDK's own table. (Changes
 * after it connected are caught by the transports, on the server's list-change notification.)
 */
function stillListed (tools: ReadonlyMap<string, RegisteredTool>, listed: readonly ListedTool[]): ReadonlyMap<string, RegisteredTool> {
  const names = new Set(listed.map((tool) => tool.name))
  return new Map([...tools].filter(([name]) => names.has(name)))
}

const NO_RULES: readonly ParamHeaderRule[] = Object.freeze([])

/** The `_meta` envelope of requests this project sends to its own servers. */
const OWN_ENVELOPE = { [PROTOCOL_VERSION_META_KEY]: MODERN_PROTOCOL_VERSION, [CLIENT_CAPABILITIES_META_KEY]: {} }

function ownRequest (method: string): JSONRPCRequest {
  return { jsonrpc: '2.0', id: 0, method, params: { _meta: OWN_ENVELOPE } }
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
  #paramRules: Promise<{ rules: Map<string, ParamHeaderRule[]>, listed: ListedTool[] }> | undefined
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
      const rules = endpoint.#paramRules = endpoint.#loadParamRules()
      endpoint.#loadedRules = (await rules).rules
      transport.setFastPath(new DirectToolCalls({ tools: stillListed(mounted.directTools, (await rules).listed), era: 'modern', serverInfo }))
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
    return loading.then(({ rules }) => {
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

  async #loadParamRules (): Promise<{ rules: Map<string, ParamHeaderRule[]>, listed: ListedTool[] }> {
    const rules = new Map<string, ParamHeaderRule[]>()
    if (this.#capabilities.tools === undefined) return { rules, listed: [] }
    const listed = await listedTools(async (request) => (await this.transport.dispatch(request, this.#extra())).response, OWN_ENVELOPE)
    for (const tool of listed) {
      const found = paramHeaderRules(tool.inputSchema)
      if (found.length > 0) rules.set(tool.name, found)
    }
    return { rules, listed }
  }

  #extra (): { authInfo?: AuthInfo } {
    return this.#authInfo === undefined ? {} : { authInfo: this.#authInfo }
  }
}
