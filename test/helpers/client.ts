import { Client as LegacyClient } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport as LegacyHttpTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { Client, StreamableHTTPClientTransport, type CallToolResult } from '@modelcontextprotocol/client'

/**
 * The clients a server meets: `legacy` is the 1.x SDK (the 2025 revisions only, most clients
 * deployed today), `auto` the v2 SDK probing with server/discover and falling back, `modern` the
 * v2 SDK pinned to 2026-07-28.
 */
export type ClientGeneration = 'legacy' | 'auto' | 'modern'
export const CLIENT_GENERATIONS: readonly ClientGeneration[] = ['legacy', 'auto', 'modern']

/** What the tests use of either SDK's client. */
export interface McpClient {
  listTools: () => Promise<{ tools: Array<{ name: string, title?: string, description?: string, inputSchema: Record<string, unknown>, outputSchema?: Record<string, unknown> }> }>
  callTool: (params: { name: string, arguments?: Record<string, unknown> }) => Promise<unknown>
}

export interface ConnectedClient {
  client: McpClient
  /** The era the client ended up in. */
  era: 'legacy' | 'modern'
  /** The stateful session id, when the server issued one. */
  sessionId: () => string | undefined
  close: () => Promise<void>
}

/** A real SDK client over Streamable HTTP, sending `headers` on every request (through `fetch`, when given: a TLS client's). */
export async function connect (url: URL, headers: Record<string, string> = {}, generation: ClientGeneration = 'legacy', fetch?: typeof globalThis.fetch): Promise<ConnectedClient> {
  const through = fetch === undefined ? {} : { fetch }
  if (generation === 'legacy') {
    const transport = new LegacyHttpTransport(url, { requestInit: { headers }, ...through })
    const client = new LegacyClient({ name: 'fastify-mcp-auth-tests', version: '0.0.0' })
    await client.connect(transport)
    return { client, era: 'legacy', sessionId: () => transport.sessionId, close: async () => { await client.close() } }
  }
  const transport = new StreamableHTTPClientTransport(url, { requestInit: { headers }, ...through })
  const mode = generation === 'auto' ? 'auto' : { pin: '2026-07-28' }
  const client = new Client({ name: 'fastify-mcp-auth-tests', version: '0.0.0' }, { versionNegotiation: { mode } })
  await client.connect(transport)
  return {
    client,
    era: client.getProtocolEra() ?? 'legacy',
    sessionId: () => transport.sessionId,
    close: async () => { await client.close() }
  }
}

export async function callTool (client: McpClient, name: string, args: Record<string, unknown>): Promise<CallToolResult> {
  return await client.callTool({ name, arguments: args }) as CallToolResult
}

export function textOf (result: CallToolResult): string {
  const first = result.content[0]
  return first?.type === 'text' ? first.text : ''
}

/** A raw JSON-RPC POST, for HTTP-level cases the SDK clients would never send. */
export async function post (url: URL | string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body)
  })
}

export const addCall = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'add', arguments: { a: 5, b: 3 } } }

/** The `_meta` envelope a 2026-07-28 request carries. */
export const MODERN_ENVELOPE = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientInfo': { name: 'raw-test', version: '0' },
  'io.modelcontextprotocol/clientCapabilities': {}
}

/** A raw 2026-07-28 request: the envelope in the body and the headers that mirror it. */
export async function postModern (url: URL | string, method: string, params: Record<string, unknown> = {}, headers: Record<string, string> = {}, id: number | string = 1): Promise<Response> {
  const name = typeof params.name === 'string' ? params.name : typeof params.uri === 'string' ? params.uri : undefined
  return await post(url, { jsonrpc: '2.0', id, method, params: { ...params, _meta: { ...MODERN_ENVELOPE, ...(params._meta as object | undefined) } } }, {
    'mcp-protocol-version': '2026-07-28',
    'mcp-method': method,
    ...(name === undefined ? {} : { 'mcp-name': name }),
    ...headers
  })
}
