import { McpServer } from '@modelcontextprotocol/server'
import { registerCalculatorTools } from '../../mcp/calculator.js'
import { DUAL_ERA_PROTOCOL_VERSIONS } from '../../mcp/protocol-versions.js'
import type { CreateMcpServer } from '../../mcp/server.js'

/** The calculator, counting every tool run and every server built, to prove refused requests run nothing. */
export function countingCalculator (): { createServer: CreateMcpServer, counts: { servers: number, toolRuns: number } } {
  const counts = { servers: 0, toolRuns: 0 }
  const createServer: CreateMcpServer = () => {
    counts.servers++
    const server = new McpServer({ name: 'counting-calculator', version: '0' }, { supportedProtocolVersions: [...DUAL_ERA_PROTOCOL_VERSIONS] })
    const register = server.registerTool.bind(server) as (name: string, config: unknown, handler: (...args: unknown[]) => unknown) => ReturnType<typeof server.registerTool>
    // Every handler is wrapped before it is registered, so a run counts on the SDK's path and on the direct one alike.
    server.registerTool = ((name: string, config: unknown, handler: (...args: unknown[]) => unknown) =>
      register(name, config, async (...args: unknown[]) => {
        counts.toolRuns++
        return await handler(...args)
      })) as typeof server.registerTool
    return { server, directTools: registerCalculatorTools(server) }
  }
  return { createServer, counts }
}
