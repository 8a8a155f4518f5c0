import { accessSync, constants, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { parseDocument } from 'yaml'
import { interpolate } from './interpolate.js'
import { packageRoot } from '../core/package.js'
import { ConfigError, formatPath, type ConfigProblem } from '../core/problems.js'
import type { z } from 'zod'
import type { ServerSection } from './schema.js'
import { resolveSecretFiles } from './secret-files.js'

export interface LoadOptions {
  env?: NodeJS.ProcessEnv
  /** Values from the command line; they win over the file and over HOST/PORT. */
  overrides?: { host?: string | undefined, port?: number | undefined }
}

/** What the loader needs to know of a deployment's file format (see deployment.ts). */
export interface ConfigFormat<C extends { server: ServerSection }> {
  schema: z.ZodType<C>
  /** Sections whose `<field>File` entries name secrets (server.tls names certificate files and is left alone). */
  secretSections: readonly string[]
  /** Fields that hold a secret and so may instead be given as `<field>File`. */
  secretFields: readonly string[]
  /** The auth section with authentication off (CALCULATOR_REQUIRE_AUTH=false), from the file's own. */
  openAccessAuth: (auth: Readonly<Record<string, unknown>> | undefined) => Record<string, unknown>
}

export const DEFAULT_CONFIG_FILE = join(packageRoot(), 'config', 'default.yaml')

/** `--config FILE`, else `MCP_AUTH_CONFIG`, else the bundled `config/default.yaml`. */
export function configFileFrom (cliValue: string | undefined, env: NodeJS.ProcessEnv): string {
  if (cliValue !== undefined && cliValue !== '') return resolve(cliValue)
  if (env.MCP_AUTH_CONFIG !== undefined && env.MCP_AUTH_CONFIG !== '') return resolve(env.MCP_AUTH_CONFIG)
  return DEFAULT_CONFIG_FILE
}

/** Reads, interpolates and validates a YAML or JSON config file; throws ConfigError listing every problem. */
export function loadConfigFileWith<C extends { server: ServerSection }> (format: ConfigFormat<C>, file: string, options: LoadOptions = {}): C {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? 'unreadable'
    throw new ConfigError(file, [{ path: '(file)', message: `cannot read ${file} (${reason})` }])
  }
  const document = parseDocument(text, { prettyErrors: true })
  if (document.errors.length > 0) {
    throw new ConfigError(file, document.errors.map((e) => ({ path: '(syntax)', message: e.message.split('\n')[0] ?? e.message })))
  }
  return parseConfigWith(format, document.toJS(), { ...options, source: file, baseDir: dirname(file) })
}

export function parseConfigWith<C extends { server: ServerSection }> (format: ConfigFormat<C>, raw: unknown, options: LoadOptions & { source?: string, baseDir?: string } = {}): C {
  const env = options.env ?? process.env
  const source = options.source ?? 'configuration'
  const problems: ConfigProblem[] = []

  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(source, [{ path: '(root)', message: 'expected a mapping of settings' }])
  }
  const doc = interpolate(authOff(raw as Record<string, unknown>, env, format), env, problems) as Record<string, unknown>
  applyEnvironment(doc, env, options.overrides)
  const explained = new Set(problems.map((p) => p.path))
  const secrets = { baseDir: options.baseDir ?? process.cwd(), fields: format.secretFields }
  for (const section of format.secretSections) {
    if (doc[section] !== undefined) doc[section] = resolveSecretFiles(doc[section], secrets, problems, [section], explained)
  }

  const result = format.schema.safeParse(doc)
  if (!result.success) {
    for (const issue of result.error.issues) {
      const path = formatPath(issue.path)
      if (!explained.has(path)) problems.push({ path, message: issue.message })
    }
  }
  if (result.success) checkFiles(result.data.server, problems)
  if (problems.length > 0 || !result.success) throw new ConfigError(source, problems)
  return result.data
}

/** Files the server reads at start (TLS): reported now, by path, rather than as a crash later. */
function checkFiles (server: ServerSection, problems: ConfigProblem[]): void {
  const tls = server.tls
  if (tls === undefined) return
  for (const field of ['certFile', 'keyFile', 'caFile'] as const) {
    const file = tls[field]
    if (file === undefined) continue
    try {
      accessSync(file, constants.R_OK)
    } catch (error) {
      problems.push({ path: `server.tls.${field}`, message: `cannot read file ${file} (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})` })
    }
  }
}

function section (doc: Record<string, unknown>, name: string): Record<string, unknown> {
  const current = doc[name]
  if (current !== null && typeof current === 'object' && !Array.isArray(current)) return current as Record<string, unknown>
  const created: Record<string, unknown> = {}
  doc[name] = created
  return created
}

/**
 * CALCULATOR_REQUIRE_AUTH=false selects the open-access strategy. The other strategies' sections
 * are dropped before interpolation: their variables (a key, a secret) are not needed to run without auth.
 */
function authOff<C extends { server: ServerSection }> (raw: Record<string, unknown>, env: NodeJS.ProcessEnv, format: ConfigFormat<C>): Record<string, unknown> {
  if (env.CALCULATOR_REQUIRE_AUTH?.toLowerCase() !== 'false') return raw
  const auth = raw.auth !== null && typeof raw.auth === 'object' && !Array.isArray(raw.auth) ? raw.auth as Record<string, unknown> : undefined
  return { ...raw, auth: format.openAccessAuth(auth) }
}

/** HOST and PORT from the environment, then command-line overrides. */
function applyEnvironment (doc: Record<string, unknown>, env: NodeJS.ProcessEnv, overrides: LoadOptions['overrides']): void {
  if (env.HOST !== undefined && env.HOST !== '') section(doc, 'server').host = env.HOST
  if (env.PORT !== undefined && env.PORT !== '') section(doc, 'server').port = env.PORT
  if (overrides?.host !== undefined) section(doc, 'server').host = overrides.host
  if (overrides?.port !== undefined) section(doc, 'server').port = overrides.port
}
