import Fastify from 'fastify'
import { expect, test } from 'tstyche'
import type { McpServer } from '@modelcontextprotocol/server'
import type { McpServer as LegacyMcpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import {
  apiKeyAuth, basicAuth, bearerAuth, jwtAuth, mcpRoutes, createCalculatorServer, buildApp, loadConfigFile,
  type Principal, type ApiKeyOptions, type McpRoutesOptions, type Config, type CreateMcpServer, type MountedServer, type ProtocolEra
} from '../../index.js'

test('a host app sees request.principal typed, without casts', () => {
  const app = Fastify()
  app.get('/', async (request) => {
    expect(request.principal).type.toBe<Principal | null>()
    if (request.principal !== null) {
      expect(request.principal.id).type.toBe<string>()
      expect(request.principal.permissions).type.toBe<readonly string[]>()
      expect(request.principal.expiresAt).type.toBe<number | undefined>()
    }
    return 'ok'
  })
})

test('strategy plugins register with their own option types', () => {
  const app = Fastify()
  expect(app.register(apiKeyAuth, { keys: [{ id: 'k', key: 'a-key-of-sixteen-chars', permissions: ['*'] }] })).type.not.toRaiseError()
  expect(app.register(bearerAuth, { tokens: [{ id: 't', token: 'a-token-of-sixteen-chars', permissions: [] }] })).type.not.toRaiseError()
  expect(app.register(basicAuth, { users: [{ username: 'u', passwordHash: '$scrypt$…', permissions: [] }] })).type.not.toRaiseError()
  expect(app.register(jwtAuth, { secret: 'x', issuer: 'https://issuer' })).type.not.toRaiseError()
  expect(app.register(apiKeyAuth, { keys: 'not a list' })).type.toRaiseError()
  expect(app.register(apiKeyAuth, { keys: [{ id: 'k', key: 'a-key-of-sixteen-chars' }] })).type.toRaiseError()
  expect(app.register(jwtAuth, { algorithms: ['none'] })).type.toRaiseError()
  expect<ApiKeyOptions['header']>().type.toBe<string | string[] | undefined>()
})

test('the MCP route plugin takes any MCP server factory', () => {
  const app = Fastify()
  const factory: CreateMcpServer = ({ principal, era }) => {
    expect(principal).type.toBe<Principal>()
    expect(era).type.toBe<ProtocolEra>()
    return createCalculatorServer({ principal, era })
  }
  expect(factory).type.toBeAssignableTo<(context: { principal: Principal, era: 'legacy' | 'modern' }) => McpServer | MountedServer>()
  expect(app.register(mcpRoutes, { path: '/mcp', createServer: factory, sessions: 'stateful' })).type.not.toRaiseError()
  const plain = (): McpServer => ({} as McpServer)
  expect(app.register(mcpRoutes, { createServer: plain })).type.not.toRaiseError()
  // A server from the 1.x SDK is not one this package can mount.
  const legacy = (): LegacyMcpServer => ({} as LegacyMcpServer)
  expect(app.register(mcpRoutes, { createServer: legacy })).type.toRaiseError()
  expect(app.register(mcpRoutes, { sessions: 'sometimes' })).type.toRaiseError()
  expect<McpRoutesOptions['accessCheck']>().type.toBe<((principal: Principal, tool: string, permission: string) => boolean | Promise<boolean>) | undefined>()
})

test('the config loader and buildApp', () => {
  expect(loadConfigFile('config/default.yaml')).type.toBe<Config>()
  expect(buildApp).type.toBeCallableWith(loadConfigFile('config/default.yaml'))
})
