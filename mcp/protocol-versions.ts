import { SUPPORTED_PROTOCOL_VERSIONS } from '@modelcontextprotocol/server'

/** The MCP revision served per request, without `initialize` or sessions ("modern"). */
export const MODERN_PROTOCOL_VERSION = '2026-07-28'

/** Revisions served statelessly per request, each with its `_meta` envelope. */
export const MODERN_PROTOCOL_VERSIONS: readonly string[] = Object.freeze([MODERN_PROTOCOL_VERSION])

/** Revisions a client selects with `initialize` ("legacy"), as the SDK negotiates them. */
export const LEGACY_PROTOCOL_VERSIONS: readonly string[] = Object.freeze([...SUPPORTED_PROTOCOL_VERSIONS])

/**
 * What a server mounted behind `mcpRoutes` passes as `supportedProtocolVersions`: both eras. An
 * SDK `McpServer` speaks only the 2025 revisions unless it lists the modern one.
 */
export const DUAL_ERA_PROTOCOL_VERSIONS: readonly string[] = Object.freeze([...LEGACY_PROTOCOL_VERSIONS, ...MODERN_PROTOCOL_VERSIONS])

export type ProtocolEra = 'legacy' | 'modern'
