import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv-provider.js'
import type { Principal } from '../plugins/auth/principal.js'
import { registerCalculatorTools } from './calculator.js'

/** One validator for every server: building an Ajv instance per server costs more than a tool call. */
const sharedValidator = new AjvJsonSchemaValidator()

export const CALCULATOR_NAME = 'fastify-mcp-auth-calculator'
export const CALCULATOR_VERSION = '0.1.0'

export interface CreateServerContext {
  /** The principal the server is created for (the session owner, or the first caller in stateless mode). */
  principal: Principal
}

/** Builds an MCP server; the route plugin decides how often (see routes/mcp.ts). */
export type CreateMcpServer = (context: CreateServerContext) => McpServer

export const createCalculatorServer: CreateMcpServer = () => {
  const server = new McpServer(
    { name: CALCULATOR_NAME, version: CALCULATOR_VERSION },
    { jsonSchemaValidator: sharedValidator, instructions: 'A calculator. Every tool takes numbers and returns { result }.' }
  )
  registerCalculatorTools(server)
  return server
}
