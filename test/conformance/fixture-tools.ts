import { fromJsonSchema, inputRequired, inputResponse, type CallToolResult, type McpServer, type ServerContext } from '@modelcontextprotocol/server'
import { z } from 'zod'
import { PNG, SCHEMA_2020_12, SEP1034_SCHEMA, SEP1330_SCHEMA, WAV } from './fixture-content.js'

const text = (value: string): CallToolResult => ({ content: [{ type: 'text', text: value }] })
const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))

/** `x-mcp-header` is an extension keyword: the schema is kept as plain JSON. */
const HEADER_ECHO_SCHEMA: Parameters<typeof fromJsonSchema>[0] = JSON.parse('{"type":"object","properties":{"region":{"type":"string","x-mcp-header":"Region"}},"required":["region"]}')

/** The content, progress, logging and error fixtures of the conformance suite's tool scenarios. */
export function registerContentTools (server: McpServer): void {
  server.registerTool('test_simple_text', { description: 'Returns a simple text response' },
    async () => text('This is a simple text response for testing.'))
  server.registerTool('test_image_content', { description: 'Returns an image' },
    async () => ({ content: [{ type: 'image', data: PNG, mimeType: 'image/png' }] }))
  server.registerTool('test_audio_content', { description: 'Returns audio' },
    async () => ({ content: [{ type: 'audio', data: WAV, mimeType: 'audio/wav' }] }))
  server.registerTool('test_embedded_resource', { description: 'Returns an embedded resource' },
    async () => ({ content: [{ type: 'resource', resource: { uri: 'test://embedded-resource', mimeType: 'text/plain', text: 'This is an embedded resource content.' } }] }))
  server.registerTool('test_multiple_content_types', { description: 'Returns text, an image and a resource' }, async () => ({
    content: [
      { type: 'text', text: 'Multiple content types test:' },
      { type: 'image', data: PNG, mimeType: 'image/png' },
      { type: 'resource', resource: { uri: 'test://mixed-content-resource', mimeType: 'application/json', text: '{"test":"data","value":123}' } }
    ]
  }))
  server.registerTool('test_error_handling', { description: 'Always returns a tool error' },
    async () => ({ ...text('This tool intentionally returns an error for testing'), isError: true }))
  server.registerTool('test_tool_with_logging', { description: 'Sends three log messages while it runs' }, async (ctx: ServerContext) => {
    for (const message of ['Tool execution started', 'Tool processing data', 'Tool execution completed']) {
      await ctx.mcpReq.log('info', message)
      await sleep(20)
    }
    return text('Tool with logging executed successfully')
  })
  server.registerTool('test_tool_with_progress', { description: 'Reports progress three times while it runs' }, async (ctx: ServerContext) => {
    const token = ctx.mcpReq._meta?.progressToken
    for (const progress of [0, 50, 100]) {
      if (token !== undefined) await ctx.mcpReq.notify({ method: 'notifications/progress', params: { progressToken: token, progress, total: 100 } })
      await sleep(10)
    }
    return text(String(token ?? 'no progress token'))
  })
  server.registerTool('json_schema_2020_12_tool', { description: 'Takes a JSON Schema 2020-12 input', inputSchema: fromJsonSchema(SCHEMA_2020_12) },
    async (args) => text(`JSON Schema 2020-12 tool called with: ${JSON.stringify(args)}`))
  server.registerTool('test_logging_tool', { description: 'Logs only when the request asks for a log level' }, async (ctx: ServerContext) => {
    await ctx.mcpReq.log('info', 'Diagnostic trace logging activated')
    return text('Logging evaluated')
  })
  server.registerTool('test_header_echo', {
    description: 'Mirrors a parameter into the Mcp-Param-Region header (SEP-2243)',
    inputSchema: fromJsonSchema(HEADER_ECHO_SCHEMA)
  }, async (args) => text(`region: ${String((args as { region?: unknown }).region)}`))
}

/**
 * Fixtures that ask the client for input. They return `input_required` (the 2026-07-28 way); on
 * the 2025 revisions the SDK turns that into real `sampling/createMessage` and `elicitation/create`
 * requests on the call's stream, which is what the suite's legacy scenarios check.
 */
export function registerInputTools (server: McpServer): void {
  server.registerTool('test_sampling', { description: 'Asks the client to sample a prompt', inputSchema: z.object({ prompt: z.string() }) }, async ({ prompt }, ctx) => {
    const answer = inputResponse(ctx.mcpReq.inputResponses, 'sample')
    if (answer.kind !== 'sampling') {
      return inputRequired({ inputRequests: { sample: inputRequired.createMessage({ messages: [{ role: 'user', content: { type: 'text', text: prompt } }], maxTokens: 100 }) } })
    }
    const content = answer.result.content
    return text(`LLM response: ${!Array.isArray(content) && content.type === 'text' ? content.text : JSON.stringify(content)}`)
  })
  const elicitation = (name: string, description: string, message: string, schema: object, reply: string): void => {
    server.registerTool(name, { description, inputSchema: z.object({ message: z.string().optional() }) }, async ({ message: asked }, ctx) => {
      const answer = inputResponse(ctx.mcpReq.inputResponses, 'form')
      if (answer.kind !== 'elicit') {
        return inputRequired({ inputRequests: { form: inputRequired.elicit({ message: asked ?? message, requestedSchema: schema as never }) } })
      }
      return text(`${reply}: action=${answer.action}, content=${JSON.stringify(answer.content ?? {})}`)
    })
  }
  elicitation('test_elicitation', 'Asks the user for information', 'Please provide your information',
    { type: 'object', properties: { response: { type: 'string', description: "User's response" } }, required: ['response'] }, 'User response')
  elicitation('test_elicitation_sep1034_defaults', 'Asks for a form with default values', 'Please review and update the form fields with defaults', SEP1034_SCHEMA, 'Elicitation completed')
  elicitation('test_elicitation_sep1330_enums', 'Asks for a form with every kind of enum', 'Please select options from the enum fields', SEP1330_SCHEMA, 'Elicitation completed')
}
