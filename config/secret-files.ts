import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { formatPath, type ConfigProblem } from '../core/problems.js'

/** Where secret files are read: relative paths from `baseDir`; `fields` may each be given as `<field>File`. */
export interface SecretFiles {
  baseDir: string
  fields: readonly string[]
}

/**
 * Replaces every `<secret>File` below `value` by `<secret>` holding the file's contents
 * (trailing newlines removed, as Docker and Kubernetes secrets usually end with one).
 * Relative paths are resolved against `baseDir`, the directory of the config file. Paths whose
 * later validation errors a reported problem already explains are added to `explained`.
 */
export function resolveSecretFiles (
  value: unknown,
  files: SecretFiles,
  problems: ConfigProblem[],
  path: Array<string | number>,
  explained: Set<string> = new Set()
): unknown {
  if (Array.isArray(value)) {
    return value.map((item, index) => resolveSecretFiles(item, files, problems, [...path, index], explained))
  }
  if (value === null || typeof value !== 'object') return value

  const out: Record<string, unknown> = {}
  for (const [key, item] of Object.entries(value)) {
    const field = key.endsWith('File') ? key.slice(0, -'File'.length) : undefined
    if (field === undefined || !files.fields.includes(field)) {
      out[key] = resolveSecretFiles(item, files, problems, [...path, key], explained)
      continue
    }
    const where = formatPath([...path, key])
    // Whatever validation would then say about the secret or its entry follows from this problem.
    explained.add(formatPath(path)).add(formatPath([...path, field]))
    if (Object.hasOwn(value, field)) {
      problems.push({ path: where, message: `give either ${field} or ${key}, not both` })
      continue
    }
    if (typeof item !== 'string' || item === '') {
      problems.push({ path: where, message: 'expected the path of a file' })
      continue
    }
    try {
      out[field] = readFileSync(resolve(files.baseDir, item), 'utf8').replace(/[\r\n]+$/, '')
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code ?? 'unreadable'
      problems.push({ path: where, message: `cannot read file ${item} (${reason})` })
    }
  }
  return out
}
