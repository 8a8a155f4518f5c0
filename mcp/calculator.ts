import type { AuthInfo, CallToolResult, McpServer, RegisteredTool } from '@modelcontextprotocol/server'
import { z } from 'zod'
import { toolError } from './tool-result.js'

const operand = (description: string) => z.number().describe(description)
const binary = z.object({ a: operand('first operand'), b: operand('second operand') })
const outputSchema = z.object({ result: z.number().describe('the result') })
const readOnly = { readOnlyHint: true, idempotentHint: true, openWorldHint: false }

/** A tool result for a computation, or a tool error when the result is not a finite number. */
export function numberResult (result: number, what: string): CallToolResult {
  if (!Number.isFinite(result)) return toolError(`The result of ${what} is not a finite number`)
  return { content: [{ type: 'text', text: String(result) }], structuredContent: { result } }
}

interface BinaryTool {
  name: string
  title: string
  description: string
  compute: (a: number, b: number) => CallToolResult
}

const binaryTools: BinaryTool[] = [
  { name: 'add', title: 'Add', description: 'Add two numbers: a + b', compute: (a, b) => numberResult(a + b, 'a + b') },
  { name: 'subtract', title: 'Subtract', description: 'Subtract b from a: a - b', compute: (a, b) => numberResult(a - b, 'a - b') },
  { name: 'multiply', title: 'Multiply', description: 'Multiply two numbers: a × b', compute: (a, b) => numberResult(a * b, 'a × b') },
  {
    name: 'divide',
    title: 'Divide',
    description: 'Divide a by b: a ÷ b (b must not be 0)',
    compute: (a, b) => b === 0 ? toolError('Division by zero: b must not be 0') : numberResult(a / b, 'a ÷ b')
  },
  {
    name: 'modulo',
    title: 'Modulo',
    description: 'Remainder of a divided by b, with the sign of a (b must not be 0)',
    compute: (a, b) => b === 0 ? toolError('Modulo by zero: b must not be 0') : numberResult(a % b, 'a mod b')
  },
  { name: 'power', title: 'Power', description: 'Raise a to the power b: a ^ b', compute: (a, b) => numberResult(a ** b, 'a ^ b') }
]

/** The calculator's tool names, in the order they are registered. */
export const calculatorTools = [...binaryTools.map((tool) => tool.name), 'sqrt', 'whoami'] as const

/** The principal a call acts for, as the route put it into the request's auth info. */
function principalOf (authInfo: AuthInfo | undefined): { id: string, strategy: string, permissions: string[] } {
  const principal = authInfo?.extra?.principal as { id?: unknown, strategy?: unknown, permissions?: unknown } | undefined
  return {
    id: typeof principal?.id === 'string' ? principal.id : authInfo?.clientId ?? 'anonymous',
    strategy: typeof principal?.strategy === 'string' ? principal.strategy : 'unknown',
    permissions: Array.isArray(principal?.permissions) ? principal.permissions.filter((p): p is string => typeof p === 'string') : [...(authInfo?.scopes ?? [])]
  }
}

/** Registers the calculator tools on an MCP server and returns their registrations, by name. */
export function registerCalculatorTools (server: McpServer): Map<string, RegisteredTool> {
  const tools = new Map<string, RegisteredTool>()
  for (const tool of binaryTools) {
    tools.set(tool.name, server.registerTool(tool.name, {
      title: tool.title,
      description: tool.description,
      inputSchema: binary,
      outputSchema,
      annotations: readOnly
    }, async ({ a, b }) => tool.compute(a, b)))
  }
  tools.set('sqrt', server.registerTool('sqrt', {
    title: 'Square root',
    description: 'Square root of x (x must not be negative)',
    inputSchema: z.object({ x: operand('a number that is not negative') }),
    outputSchema,
    annotations: readOnly
  }, async ({ x }) => x < 0 ? toolError('Square root of a negative number: x must be 0 or more') : numberResult(Math.sqrt(x), '√x')))
  tools.set('whoami', server.registerTool('whoami', {
    title: 'Who am I',
    description: 'Who this connection acts for: principal id, strategy and permissions (never a credential). For debugging a client setup.',
    inputSchema: z.object({}),
    outputSchema: z.object({ id: z.string(), strategy: z.string(), permissions: z.array(z.string()) }),
    annotations: readOnly
  }, async (_args, ctx) => {
    const principal = principalOf(ctx.http?.authInfo)
    return { content: [{ type: 'text', text: JSON.stringify(principal) }], structuredContent: principal }
  }))
  return tools
}
