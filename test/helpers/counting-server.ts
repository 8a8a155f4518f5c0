import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { registerCalculatorTools } from '../../mcp/calculator.js'
import type { CreateMcpServer } from '../../mcp/server.js'

/** The calculator, counting every tool run and every server built, to prove refused requests run nothing. */
export function countingCalculator (): { createServer: CreateMcpServer, counts: { servers: number, toolRuns: number } } {
  const counts = { servers: 0, toolRuns: 0 }
  const createServer: CreateMcpServer = () => {
    counts.servers++
    const server = new McpServer({ name: 'counting-calculator', version: '0' })
    const register = server.registerTool.bind(server)
    const counted: typeof server.registerTool = (name, config, handler) => {
      const wrapped = (async (...args: Parameters<typeof handler>) => {
        counts.toolRuns++
        return await (handler as (...a: Parameters<typeof handler>) => unknown)(...args)
      }) as typeof handler
      return register(name, config, wrapped)
    }
    server.registerTool = counted
    registerCalculatorTools(server)
    return server
  }
  return { createServer, counts }
}
