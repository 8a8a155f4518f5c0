import { completable, McpServer, ResourceTemplate, type CallToolResult } from '@modelcontextprotocol/server'
import { z } from 'zod'
import { DUAL_ERA_PROTOCOL_VERSIONS } from '../../mcp/protocol-versions.js'
import type { CreateMcpServer } from '../../mcp/server.js'
import { PNG } from './fixture-content.js'
import { registerInputRequiredTools, stateCodec } from './fixture-input-required.js'
import { registerContentTools, registerInputTools } from './fixture-tools.js'

const text = (value: string): CallToolResult => ({ content: [{ type: 'text', text: value }] })

function registerResources (server: McpServer): void {
  server.registerResource('static-text', 'test://static-text', { description: 'A static text resource', mimeType: 'text/plain' },
    async (uri) => ({ contents: [{ uri: uri.href, mimeType: 'text/plain', text: 'This is the content of the static text resource.' }] }))
  server.registerResource('static-binary', 'test://static-binary', { description: 'A static binary resource', mimeType: 'image/png' },
    async (uri) => ({ contents: [{ uri: uri.href, mimeType: 'image/png', blob: PNG }] }))
  server.registerResource('watched-resource', 'test://watched-resource', { description: 'A resource clients may subscribe to', mimeType: 'text/plain' },
    async (uri) => ({ contents: [{ uri: uri.href, mimeType: 'text/plain', text: 'Watched resource content' }] }))
  server.registerResource('template', new ResourceTemplate('test://template/{id}/data', { list: undefined }), { description: 'Data by id', mimeType: 'application/json' },
    async (uri, { id }) => ({ contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify({ id, templateTest: true, data: `Data for ID: ${String(id)}` }) }] }))
  // resources/subscribe is a 2025-era method (2026-07-28 has subscriptions/listen instead).
  server.server.registerCapabilities({ resources: { subscribe: true } })
  server.server.setRequestHandler('resources/subscribe', async () => ({}))
  server.server.setRequestHandler('resources/unsubscribe', async () => ({}))
}

function registerPrompts (server: McpServer): void {
  server.registerPrompt('test_simple_prompt', { description: 'A prompt without arguments' },
    async () => ({ messages: [{ role: 'user', content: { type: 'text', text: 'This is a simple prompt for testing.' } }] }))
  server.registerPrompt('test_prompt_with_arguments', {
    description: 'A prompt with two arguments',
    argsSchema: z.object({ arg1: completable(z.string().describe('First argument'), () => []), arg2: z.string().describe('Second argument') })
  }, async ({ arg1, arg2 }) => ({ messages: [{ role: 'user', content: { type: 'text', text: `Prompt with arguments: arg1='${arg1}', arg2='${arg2}'` } }] }))
  server.registerPrompt('test_prompt_with_embedded_resource', { description: 'A prompt that embeds a resource', argsSchema: z.object({ resourceUri: z.string() }) },
    async ({ resourceUri }) => ({
      messages: [
        { role: 'user', content: { type: 'resource', resource: { uri: resourceUri, mimeType: 'text/plain', text: 'Embedded resource content for testing.' } } },
        { role: 'user', content: { type: 'text', text: 'Please process the embedded resource above.' } }
      ]
    }))
  server.registerPrompt('test_prompt_with_image', { description: 'A prompt with an image' }, async () => ({
    messages: [
      { role: 'user', content: { type: 'image', data: PNG, mimeType: 'image/png' } },
      { role: 'user', content: { type: 'text', text: 'Please analyze the image above.' } }
    ]
  }))
}

/** Tools that change the lists, so list-change notifications have something to announce. */
function registerTriggers (server: McpServer): void {
  const dynamicTool = server.registerTool('test_dynamic_tool', { description: 'Appears and disappears on request' }, async () => text('dynamic'))
  const dynamicPrompt = server.registerPrompt('test_dynamic_prompt', { description: 'Appears and disappears on request' },
    async () => ({ messages: [{ role: 'user', content: { type: 'text', text: 'dynamic' } }] }))
  server.registerTool('test_trigger_tool_change', { description: 'Changes the tool list' }, async () => {
    if (dynamicTool.enabled) dynamicTool.disable(); else dynamicTool.enable()
    return text('Mutation triggered')
  })
  server.registerTool('test_trigger_prompt_change', { description: 'Changes the prompt list' }, async () => {
    if (dynamicPrompt.enabled) dynamicPrompt.disable(); else dynamicPrompt.enable()
    return text('Mutation triggered')
  })
}

/**
 * A server with every fixture the official conformance suite asks for, written for this
 * repository, to prove that a full-featured server mounted with `mcpRoutes` behind auth loses no
 * message in either era (`npm run conformance`).
 */
export const createConformanceServer: CreateMcpServer = () => {
  const server = new McpServer({ name: 'fastify-mcp-auth-conformance-fixtures', version: '1.0.0' }, {
    supportedProtocolVersions: [...DUAL_ERA_PROTOCOL_VERSIONS],
    capabilities: { logging: {}, completions: {} },
    requestState: { verify: stateCodec.verify }
  })
  registerContentTools(server)
  registerInputTools(server)
  registerInputRequiredTools(server)
  registerResources(server)
  registerPrompts(server)
  registerTriggers(server)
  return server
}
