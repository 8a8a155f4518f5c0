import { randomBytes } from 'node:crypto'
import {
  acceptedContent, CLIENT_CAPABILITIES_META_KEY, createRequestStateCodec, inputRequired, inputResponse,
  type CallToolResult, type ClientCapabilities, type InputRequest, type McpServer, type ServerContext
} from '@modelcontextprotocol/server'
import { z } from 'zod'

const text = (value: string): CallToolResult => ({ content: [{ type: 'text', text: value }] })

interface FlowState { kind: string, round?: number, name?: string }

/** Integrity for `requestState` (the spec's MUST): HMAC-sealed, bound to the caller and the method. */
export const stateCodec = createRequestStateCodec<FlowState>({
  key: randomBytes(32),
  bind: (ctx) => `${ctx.mcpReq.method}\0${ctx.http?.authInfo?.clientId ?? ''}`
})

const NAME = z.object({ name: z.string() })
const COLOR = z.object({ color: z.string() })
const OK = z.object({ ok: z.boolean() })
const askName = (message = 'What is your name?'): InputRequest => inputRequired.elicit({ message, requestedSchema: NAME })
const askOk = (): InputRequest => inputRequired.elicit({ message: 'Please confirm', requestedSchema: OK })
const sample = (prompt: string): InputRequest => inputRequired.createMessage({ messages: [{ role: 'user', content: { type: 'text', text: prompt } }], maxTokens: 50 })

function clientCapabilities (ctx: ServerContext, server: McpServer): ClientCapabilities {
  const envelope = ctx.mcpReq.envelope as Record<string, unknown> | undefined
  return (envelope?.[CLIENT_CAPABILITIES_META_KEY] as ClientCapabilities | undefined) ?? server.server.getClientCapabilities() ?? {}
}

function sampledText (ctx: ServerContext, key: string): string | undefined {
  const answer = inputResponse(ctx.mcpReq.inputResponses, key)
  if (answer.kind !== 'sampling') return undefined
  const content = answer.result.content
  return !Array.isArray(content) && content.type === 'text' ? content.text : ''
}

/** The multi-round-trip (SEP-2322) fixtures of the `input-required-result-*` and `server-stateless` scenarios. */
export function registerInputRequiredTools (server: McpServer): void {
  const tool = (name: string, description: string, handler: (ctx: ServerContext) => Promise<CallToolResult | ReturnType<typeof inputRequired>>): void => {
    server.registerTool(name, { description }, handler)
  }
  tool('test_input_required_result_elicitation', 'Asks for a name, then greets', async (ctx) => {
    const answer = acceptedContent(ctx.mcpReq.inputResponses, 'user_name', NAME)
    return answer === undefined ? inputRequired({ inputRequests: { user_name: askName() } }) : text(`Hello, ${answer.name}!`)
  })
  tool('test_input_required_result_sampling', 'Asks the client to sample', async (ctx) => {
    const answer = sampledText(ctx, 'sample_request')
    return answer === undefined ? inputRequired({ inputRequests: { sample_request: sample('What is the capital of France?') } }) : text(`Sampling result: ${answer}`)
  })
  tool('test_input_required_result_list_roots', 'Asks for the client roots', async (ctx) => {
    const answer = inputResponse(ctx.mcpReq.inputResponses, 'roots_request')
    return answer.kind !== 'roots' ? inputRequired({ inputRequests: { roots_request: inputRequired.listRoots() } }) : text(`Found ${answer.roots.length} root(s)`)
  })
  tool('test_input_required_result_request_state', 'Keeps its state in requestState', async (ctx) => {
    const state = ctx.mcpReq.requestState<FlowState>()
    if (state?.kind === 'request-state' && acceptedContent(ctx.mcpReq.inputResponses, 'confirm', OK)?.ok === true) return text('state-ok: requestState validated')
    return inputRequired({ inputRequests: { confirm: askOk() }, requestState: await stateCodec.mint({ kind: 'request-state' }, ctx) })
  })
  tool('test_input_required_result_multiple_inputs', 'Asks for three inputs at once', async (ctx) => {
    const name = acceptedContent(ctx.mcpReq.inputResponses, 'user_name', NAME)
    const greeting = sampledText(ctx, 'greeting')
    const roots = inputResponse(ctx.mcpReq.inputResponses, 'client_roots')
    if (ctx.mcpReq.requestState<FlowState>()?.kind === 'multiple-inputs' && name !== undefined && greeting !== undefined && roots.kind === 'roots') {
      return text(`Name: ${name.name}; Greeting: ${greeting}; Roots: ${roots.roots.length}`)
    }
    return inputRequired({
      inputRequests: { user_name: askName(), greeting: sample('Generate a greeting'), client_roots: inputRequired.listRoots() },
      requestState: await stateCodec.mint({ kind: 'multiple-inputs' }, ctx)
    })
  })
  tool('test_input_required_result_multi_round', 'Asks twice, one question per round', async (ctx) => {
    const state = ctx.mcpReq.requestState<FlowState>()
    const name = acceptedContent(ctx.mcpReq.inputResponses, 'step1', NAME)
    if (state?.round === 1 && name !== undefined) {
      return inputRequired({
        inputRequests: { step2: inputRequired.elicit({ message: 'Step 2: What is your favorite color?', requestedSchema: COLOR }) },
        requestState: await stateCodec.mint({ kind: 'multi-round', round: 2, name: name.name }, ctx)
      })
    }
    const color = acceptedContent(ctx.mcpReq.inputResponses, 'step2', COLOR)
    if (state?.round === 2 && color !== undefined) return text(`Multi-round complete for ${state.name ?? 'friend'} who likes ${color.color}`)
    return inputRequired({ inputRequests: { step1: askName('Step 1: What is your name?') }, requestState: await stateCodec.mint({ kind: 'multi-round', round: 1 }, ctx) })
  })
  tool('test_input_required_result_tampered_state', 'Refuses a requestState that was altered', async (ctx) => {
    if (ctx.mcpReq.requestState<FlowState>()?.kind === 'tamper-test' && acceptedContent(ctx.mcpReq.inputResponses, 'confirm', OK) !== undefined) {
      return text('integrity-ok: state verified')
    }
    return inputRequired({ inputRequests: { confirm: askOk() }, requestState: await stateCodec.mint({ kind: 'tamper-test' }, ctx) })
  })
  tool('test_input_required_result_capabilities', 'Asks only for what the client can answer', async (ctx) => {
    const responses = ctx.mcpReq.inputResponses
    if (responses !== undefined && Object.keys(responses).length > 0) return text(`capabilities-ok: received ${Object.keys(responses).join(',')}`)
    const capabilities = clientCapabilities(ctx, server)
    const inputRequests: Record<string, InputRequest> = {}
    if (capabilities.elicitation !== undefined) inputRequests.elicit_input = inputRequired.elicit({ message: 'Elicitation input', requestedSchema: z.object({ value: z.string() }) })
    if (capabilities.sampling !== undefined) inputRequests.sample_input = sample('Sample request')
    if (Object.keys(inputRequests).length === 0) return text('No supported capabilities declared')
    return inputRequired({ inputRequests, requestState: await stateCodec.mint({ kind: 'capabilities-test' }, ctx) })
  })
  tool('test_missing_capability', 'Needs the client to sample', async (ctx) => {
    const answer = sampledText(ctx, 'needs_sampling')
    return answer === undefined ? inputRequired({ inputRequests: { needs_sampling: sample('Say hello') } }) : text('Success')
  })
  tool('test_streaming_elicitation', 'Asks for input without a server-to-client request', async (ctx) => {
    const answer = acceptedContent(ctx.mcpReq.inputResponses, 'user_name', NAME)
    return answer === undefined ? inputRequired({ inputRequests: { user_name: askName() } }) : text('Streaming complete')
  })
  const CONTEXT = z.object({ context: z.string() })
  server.registerPrompt('test_input_required_result_prompt', { description: 'A prompt that asks for its context first' }, async (ctx) => {
    const answer = acceptedContent(ctx.mcpReq.inputResponses, 'prompt_context', CONTEXT)
    if (answer === undefined) {
      return inputRequired({ inputRequests: { prompt_context: inputRequired.elicit({ message: 'What context should the prompt use?', requestedSchema: CONTEXT }) } })
    }
    return { messages: [{ role: 'user', content: { type: 'text', text: `Use this context: ${answer.context}` } }] }
  })
}
