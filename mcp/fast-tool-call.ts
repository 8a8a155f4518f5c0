import { CallToolResultSchema } from '@modelcontextprotocol/core'
import {
  CLIENT_CAPABILITIES_META_KEY, CLIENT_INFO_META_KEY, PROTOCOL_VERSION_META_KEY, ProtocolError, ProtocolErrorCode, SERVER_INFO_META_KEY,
  type CallToolResult, type Implementation, type JSONRPCRequest, type JSONRPCResponse, type MessageExtraInfo, type RegisteredTool
} from '@modelcontextprotocol/server'
import { JsonRpcCode } from '../core/jsonrpc.js'
import { toolError } from './tool-result.js'
import type { ProtocolEra } from './protocol-versions.js'

/** Serves eligible `tools/call` requests without the SDK's per-request machinery. */
export interface ToolCallFastPath {
  /** The response (under `internalId`), or undefined when the SDK must serve this call. */
  tryCall: (request: JSONRPCRequest, internalId: number, extra: MessageExtraInfo, signal: () => AbortSignal) => Promise<JSONRPCResponse> | undefined
}

/** The envelope a 2026-07-28 request always carries; any other `_meta` key means the SDK's path. */
const ENVELOPE_KEYS = new Set([PROTOCOL_VERSION_META_KEY, CLIENT_CAPABILITIES_META_KEY, CLIENT_INFO_META_KEY])

type Issues = ReadonlyArray<{ message: string, path?: ReadonlyArray<PropertyKey | { key: PropertyKey }> | undefined }>

function describe (issues: Issues): string {
  return issues.map((issue) => {
    if (issue.path === undefined || issue.path.length === 0) return issue.message
    return `${issue.path.map((part) => String(typeof part === 'object' ? part.key : part)).join('.')}: ${issue.message}`
  }).join(', ')
}

const URL_ELICITATION_MODERN = 'URL elicitation cannot be signalled by throwing UrlElicitationRequiredError on protocol revision 2026-07-28: ' +
  'return inputRequired({ inputRequests: { …: inputRequired.elicitUrl(...) } }) from the handler instead. ' +
  'The urlElicitationRequired error (-32042) of earlier revisions is not available on this revision.'

const NO_STATE = (): undefined => undefined
/** What a direct tool gets in place of the messaging functions it promised not to use. */
async function UNAVAILABLE (): Promise<never> {
  throw new Error('a direct tool cannot send progress, logs or requests; leave this tool out of directTools')
}

const NO_HTTP = Object.freeze({})

/**
 * `ctx.mcpReq` of a direct call. A class rather than an object literal with a getter: one is
 * built per call, and a literal's accessor costs several microseconds to create.
 */
class DirectRequest {
  readonly id: number
  readonly method = 'tools/call'
  readonly requestState = NO_STATE
  readonly notify = UNAVAILABLE
  readonly send = UNAVAILABLE
  readonly log = UNAVAILABLE
  readonly elicitInput = UNAVAILABLE
  readonly requestSampling = UNAVAILABLE
  readonly #signal: () => AbortSignal

  constructor (id: number, signal: () => AbortSignal) {
    this.id = id
    this.#signal = signal
  }

  /** Made on first read: most tools never look. */
  get signal (): AbortSignal {
    return this.#signal()
  }
}

class DirectToolContext {
  readonly mcpReq: DirectRequest
  readonly http: Readonly<{ authInfo?: MessageExtraInfo['authInfo'] }>

  constructor (mcpReq: DirectRequest, http: Readonly<{ authInfo?: MessageExtraInfo['authInfo'] }>) {
    this.mcpReq = mcpReq
    this.http = http
  }
}

function isPlainObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function plainEnvelope (meta: unknown, era: ProtocolEra): boolean {
  if (meta === undefined) return true
  if (era === 'legacy' || !isPlainObject(meta)) return false
  return Object.keys(meta).every((key) => ENVELOPE_KEYS.has(key))
}

export interface DirectToolsOptions {
  tools: ReadonlyMap<string, RegisteredTool>
  era: ProtocolEra
  /** Stamped on modern results, as the SDK stamps its own (learned from the server's discover answer). */
  serverInfo?: Implementation | undefined
}

/**
 * The hot method without the SDK's dispatch (schema passes, an AbortController, a dozen promise
 * hops per call), for tools a server declared direct: handlers that read only their arguments,
 * `ctx.http.authInfo` and `ctx.mcpReq.signal`. Everything that makes a call safe stays: the
 * tool's input and output schemas, the SDK's result schema, and the SDK's error results. Any
 * unusual call (a progress token, a log level, input responses, invalid arguments, an async
 * schema) takes the SDK's path; test/mcp/fast-tool-call.test.ts compares both paths.
 */
export class DirectToolCalls implements ToolCallFastPath {
  readonly #tools: ReadonlyMap<string, RegisteredTool>
  readonly #era: ProtocolEra
  readonly #serverInfo: Implementation | undefined
  /** The `_meta` of a modern result without one of its own: the same for every call. */
  readonly #serverInfoMeta: Readonly<Record<string, unknown>>

  constructor (options: DirectToolsOptions) {
    this.#tools = options.tools
    this.#era = options.era
    this.#serverInfo = options.serverInfo
    this.#serverInfoMeta = Object.freeze({ [SERVER_INFO_META_KEY]: options.serverInfo })
  }

  tryCall (request: JSONRPCRequest, internalId: number, extra: MessageExtraInfo, signal: () => AbortSignal): Promise<JSONRPCResponse> | undefined {
    if (request.method !== 'tools/call' || !isPlainObject(request.params)) return undefined
    const { name, arguments: args, _meta: meta, ...rest } = request.params
    if (typeof name !== 'string' || Object.keys(rest).length > 0 || !plainEnvelope(meta, this.#era)) return undefined
    if (args !== undefined && !isPlainObject(args)) return undefined
    const tool = this.#tools.get(name)
    if (tool === undefined || !tool.enabled || tool.inputSchema === undefined) return undefined
    if (tool.execution?.taskSupport !== undefined && tool.execution.taskSupport !== 'forbidden') return undefined
    const input = tool.inputSchema['~standard'].validate(args ?? {})
    // Async schemas and invalid arguments: the SDK validates and words the error; nothing ran yet.
    if (input instanceof Promise || input.issues !== undefined) return undefined
    return this.#run(tool, name, input.value, internalId, extra, signal)
  }

  async #run (tool: RegisteredTool, name: string, args: unknown, id: number, extra: MessageExtraInfo, signal: () => AbortSignal): Promise<JSONRPCResponse> {
    let result: CallToolResult
    try {
      const handler = tool.handler as (args: unknown, ctx: unknown) => unknown
      result = this.#checkOutput(tool, name, await handler(args, this.#context(id, extra, signal)) as CallToolResult)
    } catch (error) {
      // The SDK answers this one with a protocol error rather than a tool error; in 2026-07-28,
      // where -32042 no longer exists, as an internal error that says what to do instead.
      if (error instanceof ProtocolError && error.code === ProtocolErrorCode.UrlElicitationRequired) {
        return { jsonrpc: '2.0', id, error: this.#era === 'legacy' ? { code: error.code, message: error.message, ...(error.data === undefined ? {} : { data: error.data }) } : { code: JsonRpcCode.InternalError, message: URL_ELICITATION_MODERN } }
      }
      result = toolError(error instanceof Error ? error.message : String(error))
    }
    const checked = CallToolResultSchema.safeParse(result)
    if (!checked.success) {
      return { jsonrpc: '2.0', id, error: { code: JsonRpcCode.InvalidParams, message: `Invalid tools/call result: ${checked.error.message}` } }
    }
    return { jsonrpc: '2.0', id, result: this.#project(checked.data) }
  }

  #checkOutput (tool: RegisteredTool, name: string, result: CallToolResult): CallToolResult {
    if (tool.outputSchema === undefined || result.isError === true) return result
    if (result.structuredContent === undefined) {
      return toolError(`Output validation error: Tool ${name} has an output schema but no structured content was provided`)
    }
    const output = tool.outputSchema['~standard'].validate(result.structuredContent)
    if (output instanceof Promise) throw new Error(`Output validation error: Tool ${name} has an asynchronous output schema`)
    if (output.issues !== undefined) {
      return toolError(`Output validation error: Invalid structured content for tool ${name}: ${describe(output.issues)}`)
    }
    return result
  }

  /**
   * The result as the SDK's codec for the era puts it on the wire (SEP-2106, resultType,
   * serverInfo). `result` is the schema's fresh copy, so it is completed in place.
   */
  #project (result: CallToolResult): Record<string, unknown> {
    let projected: Record<string, unknown> = result
    const structured = result.structuredContent
    if (structured !== undefined && !isPlainObject(structured)) {
      const hasText = result.content.some((block) => block.type === 'text')
      projected = hasText ? result : { ...result, content: [...result.content, { type: 'text', text: JSON.stringify(structured) }] }
      if (this.#era === 'legacy') projected = { ...projected, structuredContent: { result: structured } }
    }
    if (this.#era === 'legacy') return projected
    projected.resultType = 'complete'
    if (this.#serverInfo !== undefined) projected._meta = result._meta === undefined ? this.#serverInfoMeta : { ...result._meta, ...this.#serverInfoMeta }
    return projected
  }

  /** What a direct tool's handler receives: its request, its caller, a lazily created abort signal. */
  #context (id: number, extra: MessageExtraInfo, signal: () => AbortSignal): DirectToolContext {
    return new DirectToolContext(new DirectRequest(id, signal), extra.authInfo === undefined ? NO_HTTP : { authInfo: extra.authInfo })
  }
}
