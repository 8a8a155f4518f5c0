import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { getParseErrorMessage, safeParse } from '@modelcontextprotocol/sdk/server/zod-compat.js'
import {
  CallToolRequestSchema, CallToolResultSchema, ErrorCode, McpError,
  type CallToolResult, type JSONRPCRequest, type JSONRPCResponse, type MessageExtraInfo, type RequestId
} from '@modelcontextprotocol/sdk/types.js'

/**
 * A direct path for `tools/call`, the hot method, that skips the SDK's per-message machinery
 * (four schema checks before dispatch, two failing ones among them, an AbortController, a
 * dozen promise hops) while keeping what makes a call safe: the SDK's request and result schemas,
 * the tool's own input and output schemas, and the SDK's error results, word for word.
 *
 * It reads the McpServer's live tool table, which the SDK does not expose; the table's shape is
 * checked on every call and anything unexpected (or any unusual call: tasks, `_meta`, a tool
 * error before the handler runs) returns undefined, and the caller takes the SDK's own path.
 * test/mcp/fast-tool-call.test.ts compares both paths response for response.
 */

/** The part of a zod 4 schema used here. */
interface ZodSchema {
  _zod: unknown
  safeParse: (value: unknown) => { success: boolean, data?: unknown, error?: unknown }
  safeParseAsync: (value: unknown) => Promise<{ success: boolean, data?: unknown, error?: unknown }>
}

interface ToolEntry {
  enabled: boolean
  inputSchema: ZodSchema
  outputSchema: ZodSchema | undefined
  execution?: { taskSupport?: string }
  handler: (args: unknown, extra: unknown) => unknown
}

function isZodV4Object (schema: unknown): schema is ZodSchema {
  return typeof schema === 'object' && schema !== null && '_zod' in schema &&
    typeof (schema as Partial<ZodSchema>).safeParse === 'function' && typeof (schema as Partial<ZodSchema>).safeParseAsync === 'function'
}

function toolEntry (registry: unknown, name: string): ToolEntry | undefined {
  if (typeof registry !== 'object' || registry === null || !Object.hasOwn(registry, name)) return undefined
  const tool: unknown = (registry as Record<string, unknown>)[name]
  if (typeof tool !== 'object' || tool === null) return undefined
  const entry = tool as Partial<ToolEntry>
  if (entry.enabled !== true || typeof entry.handler !== 'function') return undefined
  if (entry.execution?.taskSupport !== undefined && entry.execution.taskSupport !== 'forbidden') return undefined
  if (!isZodV4Object(entry.inputSchema)) return undefined
  if (entry.outputSchema !== undefined && !isZodV4Object(entry.outputSchema)) return undefined
  return entry as ToolEntry
}

function toolError (message: string): CallToolResult {
  return { content: [{ type: 'text', text: message }], isError: true }
}

export interface FastCallContext {
  requestId: RequestId
  sessionId: string | undefined
  extra: MessageExtraInfo
  /** The call's abort signal, created on first use (most tools never look at it). */
  signal: () => AbortSignal
}

export class FastToolCaller {
  readonly #server: McpServer
  /** Set in McpServer's constructor and never changed: an element limit means the SDK path. */
  readonly #limitsInput: boolean

  constructor (server: McpServer) {
    this.#server = server
    this.#limitsInput = Reflect.get(server, '_maxToolInputElements') !== undefined
  }

  /** The response to `request`, or undefined when this call must go through the SDK. */
  tryCall (request: JSONRPCRequest, context: FastCallContext): Promise<JSONRPCResponse> | undefined {
    if (request.method !== 'tools/call') return undefined
    const params = request.params as { name?: unknown, arguments?: unknown, task?: unknown, _meta?: unknown } | undefined
    if (params === undefined || typeof params.name !== 'string' || params.task !== undefined || params._meta !== undefined) return undefined
    if (!safeParse(CallToolRequestSchema, request).success) return undefined
    if (this.#limitsInput) return undefined
    const tool = toolEntry(Reflect.get(this.#server, '_registeredTools') as unknown, params.name)
    if (tool === undefined) return undefined
    let input: { success: boolean, data?: unknown }
    try {
      input = tool.inputSchema.safeParse(params.arguments ?? {})
    } catch {
      return undefined // an async refinement: only the SDK's async parse can run it
    }
    // Invalid arguments: the SDK words that error; nothing has run yet, so hand the call over.
    if (!input.success) return undefined
    return this.#run(tool, params.name, input.data, request.id, context)
  }

  async #run (tool: ToolEntry, name: string, args: unknown, id: RequestId, context: FastCallContext): Promise<JSONRPCResponse> {
    let result: CallToolResult
    try {
      result = await tool.handler(args, this.#handlerExtra(context)) as CallToolResult
      result = await this.#checkOutput(tool, name, result)
    } catch (error) {
      if (error instanceof McpError && error.code === ErrorCode.UrlElicitationRequired) {
        return { jsonrpc: '2.0', id, error: { code: error.code, message: error.message, ...(error.data === undefined ? {} : { data: error.data }) } }
      }
      result = toolError(error instanceof Error ? error.message : String(error))
    }
    const checked = safeParse(CallToolResultSchema, result)
    if (!checked.success) {
      const message = checked.error instanceof Error ? checked.error.message : String(checked.error)
      return { jsonrpc: '2.0', id, error: { code: ErrorCode.InvalidParams, message: new McpError(ErrorCode.InvalidParams, `Invalid tools/call result: ${message}`).message } }
    }
    return { jsonrpc: '2.0', id, result: checked.data }
  }

  async #checkOutput (tool: ToolEntry, name: string, result: CallToolResult): Promise<CallToolResult> {
    if (tool.outputSchema === undefined || !('content' in result) || result.isError) return result
    if (result.structuredContent === undefined) {
      throw new McpError(ErrorCode.InvalidParams, `Output validation error: Tool ${name} has an output schema but no structured content was provided`)
    }
    let parsed: { success: boolean, error?: unknown }
    try {
      parsed = tool.outputSchema.safeParse(result.structuredContent)
    } catch {
      parsed = await tool.outputSchema.safeParseAsync(result.structuredContent)
    }
    if (!parsed.success) {
      throw new McpError(ErrorCode.InvalidParams, `Output validation error: Invalid structured content for tool ${name}: ${getParseErrorMessage(parsed.error)}`)
    }
    return result
  }

  /** What a tool handler receives as `extra`, as the SDK builds it for a request without tasks. */
  #handlerExtra (context: FastCallContext): Record<string, unknown> {
    const server = this.#server.server
    const requestId = context.requestId
    return {
      get signal () {
        return context.signal()
      },
      authInfo: context.extra.authInfo,
      sessionId: context.sessionId,
      requestId,
      requestInfo: context.extra.requestInfo,
      sendNotification: async (notification: Parameters<typeof server.notification>[0]) => {
        await server.notification(notification, { relatedRequestId: requestId })
      },
      sendRequest: async (request: Parameters<typeof server.request>[0], schema: Parameters<typeof server.request>[1], options?: Parameters<typeof server.request>[2]) =>
        await server.request(request, schema, { ...options, relatedRequestId: requestId })
    }
  }
}
