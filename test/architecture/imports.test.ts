import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { strategyNames } from '../../plugins/auth/registry.js'

// The layout of DESIGN.md, read from the import graph: imports point down this list, never up.

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')

/** Top first. A file may import files of its own layer or of any layer below. */
const LAYERS: ReadonlyArray<{ name: string, holds: (path: string) => boolean }> = [
  { name: 'bin', holds: (path) => path.startsWith('bin/') },
  { name: 'entry points', holds: (path) => path === 'index.ts' || path === 'server.ts' },
  { name: 'the app', holds: (path) => ['app.ts', 'app-options.ts', 'deployment.ts'].includes(path) },
  { name: 'routes', holds: (path) => path.startsWith('routes/') },
  { name: 'mcp', holds: (path) => path.startsWith('mcp/') },
  { name: 'plugins/auth', holds: (path) => path.startsWith('plugins/auth/') },
  { name: 'plugins', holds: (path) => path.startsWith('plugins/') },
  { name: 'config', holds: (path) => path.startsWith('config/') },
  { name: 'core', holds: (path) => path.startsWith('core/') }
]

function layerOf (path: string): number {
  return LAYERS.findIndex((layer) => layer.holds(path))
}

function sourceFiles (dir = ''): string[] {
  const files: string[] = []
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
    const path = dir === '' ? entry.name : `${dir}/${entry.name}`
    if (entry.isDirectory()) {
      if (dir !== '' || LAYERS.some((layer) => layer.holds(`${path}/x.ts`))) files.push(...sourceFiles(path))
    } else if (path.endsWith('.ts') && !path.endsWith('.d.ts') && layerOf(path) >= 0) {
      files.push(path)
    }
  }
  return files
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s+['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g

function importsOf (path: string): string[] {
  const text = readFileSync(join(root, path), 'utf8')
  return [...text.matchAll(IMPORT)].map((match) => {
    const target = resolve(join(root, dirname(path)), match[1] ?? match[2] ?? '')
    return relative(root, target).replace(/\.js$/, '.ts')
  })
}

const files = sourceFiles()

t.test('the source tree is what the layout names', async (t) => {
  t.ok(files.length > 60, `${files.length} source files`)
  for (const layer of LAYERS) t.ok(files.some((path) => layer.holds(path)), `${layer.name} has files`)
})

t.test('imports only point down the layout', async (t) => {
  const upward: string[] = []
  t.ok(files.flatMap(importsOf).length > 200, 'the graph is read')
  for (const path of files) {
    for (const target of importsOf(path)) {
      const from = layerOf(path)
      const to = layerOf(target)
      if (to < 0) upward.push(`${path} -> ${target} (outside the layout)`)
      else if (to < from) upward.push(`${path} (${LAYERS[from]?.name ?? ''}) -> ${target} (${LAYERS[to]?.name ?? ''})`)
    }
  }
  t.same(upward, [])
})

t.test('mcp/ knows nothing of strategies or plugins: it imports only core/ (and the SDK)', async (t) => {
  const outside = files.filter((path) => path.startsWith('mcp/'))
    .flatMap((path) => importsOf(path).filter((target) => !target.startsWith('mcp/') && !target.startsWith('core/')).map((target) => `${path} -> ${target}`))
  t.same(outside, [])
})

/**
 * `none` that is not the strategy: a Prometheus label value meaning "no failure reason", OAuth's
 * token_endpoint_auth_method of public clients, OIDC's prompt value, and CSP's source list keyword.
 */
const NOT_A_STRATEGY = new Set([
  "plugins/metrics.ts: reason: event.reason ?? 'none'",
  "plugins/token-issuer/code-flow-clients.ts: export const PUBLIC_CLIENT_AUTH_METHOD = 'none'",
  "plugins/token-issuer/login-sessions.ts: export const PROMPT_VALUES = ['none', 'login', 'consent'] as const",
  "routes/login-pages.ts: .header('content-security-policy', `default-src 'none'"
])

t.test('strategy names appear only in plugins/auth/', async (t) => {
  const named: string[] = []
  const literal = new RegExp(`(['"\`])(${strategyNames.join('|')})\\1`)
  for (const path of files.filter((file) => !file.startsWith('plugins/auth/'))) {
    for (const line of readFileSync(join(root, path), 'utf8').split('\n')) {
      if (/^\s*(\/\/|\/\*|\*)/.test(line)) continue
      const match = literal.exec(line)
      if (match === null) continue
      if ([...NOT_A_STRATEGY].some((allowed) => allowed.startsWith(`${path}: `) && line.includes(allowed.slice(path.length + 2)))) continue
      named.push(`${path}: ${line.trim()}`)
    }
  }
  t.same(named, [])
})
