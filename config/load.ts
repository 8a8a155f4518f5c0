import { accessSync, constants, existsSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseDocument } from 'yaml'
import { interpolate } from './interpolate.js'
import { ConfigError, formatPath, type ConfigProblem } from './problems.js'
import { configSchema, type Config } from './schema.js'
import { resolveSecretFiles } from './secret-files.js'

export interface LoadOptions {
  env?: NodeJS.ProcessEnv
  /** Values from the command line; they win over the file and over HOST/PORT. */
  overrides?: { host?: string | undefined, port?: number | undefined }
}

/** Sections whose `*File` fields name secrets (server.tls names certificate files and is left alone). */
const SECRET_SECTIONS = ['auth', 'store', 'rateLimit', 'metrics'] as const

function packageRoot (): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir)
    if (parent === dir) throw new Error('package.json not found above ' + fileURLToPath(import.meta.url))
    dir = parent
  }
  return dir
}

export const DEFAULT_CONFIG_FILE = join(packageRoot(), 'config', 'default.yaml')

/** `--config FILE`, else `MCP_AUTH_CONFIG`, else the bundled `config/default.yaml`. */
export function configFileFrom (cliValue: string | undefined, env: NodeJS.ProcessEnv): string {
  if (cliValue !== undefined && cliValue !== '') return resolve(cliValue)
  if (env.MCP_AUTH_CONFIG !== undefined && env.MCP_AUTH_CONFIG !== '') return resolve(env.MCP_AUTH_CONFIG)
  return DEFAULT_CONFIG_FILE
}

/** Reads, interpolates and validates a YAML or JSON config file; throws ConfigError listing every problem. */
export function loadConfigFile (file: string, options: LoadOptions = {}): Config {
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
  return parseConfig(document.toJS(), { ...options, source: file, baseDir: dirname(file) })
}

export function parseConfig (raw: unknown, options: LoadOptions & { source?: string, baseDir?: string } = {}): Config {
  const env = options.env ?? process.env
  const source = options.source ?? 'configuration'
  const problems: ConfigProblem[] = []

  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(source, [{ path: '(root)', message: 'expected a mapping of settings' }])
  }
  const doc = interpolate(authOff(raw as Record<string, unknown>, env), env, problems) as Record<string, unknown>
  applyEnvironment(doc, env, options.overrides)
  const explained = new Set(problems.map((p) => p.path))
  for (const section of SECRET_SECTIONS) {
    if (doc[section] !== undefined) doc[section] = resolveSecretFiles(doc[section], options.baseDir ?? process.cwd(), problems, [section], explained)
  }

  const result = configSchema.safeParse(doc)
  if (!result.success) {
    for (const issue of result.error.issues) {
      const path = formatPath(issue.path)
      if (!explained.has(path)) problems.push({ path, message: issue.message })
    }
  }
  if (result.success) checkFiles(result.data, problems)
  if (problems.length > 0 || !result.success) throw new ConfigError(source, problems)
  return result.data
}

/** Files the server reads at start (TLS): reported now, by path, rather than as a crash later. */
function checkFiles (config: Config, problems: ConfigProblem[]): void {
  const tls = config.server.tls
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
 * CALCULATOR_REQUIRE_AUTH=false selects the none strategy. The other strategies' sections are
 * dropped before interpolation: their variables (a key, a secret) are not needed to run without auth.
 */
function authOff (raw: Record<string, unknown>, env: NodeJS.ProcessEnv): Record<string, unknown> {
  if (env.CALCULATOR_REQUIRE_AUTH?.toLowerCase() !== 'false') return raw
  const none = (raw.auth as Record<string, unknown> | undefined)?.none
  return { ...raw, auth: { strategy: 'none', ...(none === undefined ? {} : { none }) } }
}

/** HOST and PORT from the environment, then command-line overrides. */
function applyEnvironment (doc: Record<string, unknown>, env: NodeJS.ProcessEnv, overrides: LoadOptions['overrides']): void {
  if (env.HOST !== undefined && env.HOST !== '') section(doc, 'server').host = env.HOST
  if (env.PORT !== undefined && env.PORT !== '') section(doc, 'server').port = env.PORT
  if (overrides?.host !== undefined) section(doc, 'server').host = overrides.host
  if (overrides?.port !== undefined) section(doc, 'server').port = overrides.port
}
