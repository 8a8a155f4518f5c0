import { formatPath, type ConfigProblem } from '../core/problems.js'

// A default may itself hold placeholders, one level deep: ${MCP_PUBLIC_URL:-http://127.0.0.1:${PORT:-3000}}.
const PLACEHOLDER = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-((?:[^{}$]|\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[^{}$]*)?\}|\$(?!\{))*))?\}/g

/**
 * Replaces `${NAME}` and `${NAME:-default}` in every string of a parsed config document (a
 * default may hold placeholders of its own, one level deep).
 * A missing variable without a default is reported by path; the value becomes '' so that
 * validation can go on and report every other problem in the same run.
 */
export function interpolate (
  value: unknown,
  env: NodeJS.ProcessEnv,
  problems: ConfigProblem[],
  path: Array<string | number> = []
): unknown {
  if (typeof value === 'string') {
    return value.replace(PLACEHOLDER, (_match, name: string, fallback: string | undefined) => {
      const found = env[name]
      if (found !== undefined && found !== '') return found
      if (fallback !== undefined) return interpolate(fallback, env, problems, path) as string
      problems.push({ path: formatPath(path), message: `environment variable ${name} is not set` })
      return ''
    })
  }
  if (Array.isArray(value)) {
    return value.map((item, index) => interpolate(item, env, problems, [...path, index]))
  }
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [key, item] of Object.entries(value)) {
      out[key] = interpolate(item, env, problems, [...path, key])
    }
    return out
  }
  return value
}
