import type { CallToolResult } from '@modelcontextprotocol/server'

/** A tool call that failed in a way the model should see and may correct: a result with `isError`, not a protocol error. */
export function toolError (text: string): CallToolResult {
  return { content: [{ type: 'text', text }], isError: true }
}
