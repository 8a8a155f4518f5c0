import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js'

export interface ConnectedClient {
  client: Client
  transport: StreamableHTTPClientTransport
  close: () => Promise<void>
}

/** The SDK's own client over Streamable HTTP, sending `headers` on every request. */
export async function connect (url: URL, headers: Record<string, string> = {}): Promise<ConnectedClient> {
  const transport = new StreamableHTTPClientTransport(url, { requestInit: { headers } })
  const client = new Client({ name: 'fastify-mcp-auth-tests', version: '0.0.0' })
  await client.connect(transport)
  return { client, transport, close: async () => { await client.close() } }
}

export async function callTool (client: Client, name: string, args: Record<string, unknown>): Promise<CallToolResult> {
  return await client.callTool({ name, arguments: args }) as CallToolResult
}

export function textOf (result: CallToolResult): string {
  const first = result.content[0]
  return first?.type === 'text' ? first.text : ''
}

/** A raw JSON-RPC POST, for HTTP-level cases the SDK client would never send. */
export async function post (url: URL | string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body)
  })
}

export const addCall = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'add', arguments: { a: 5, b: 3 } } }
