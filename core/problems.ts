export interface ConfigProblem {
  path: string
  message: string
}

/** A config path in the form users read: `auth.apiKey.keys[1].key`. */
export function formatPath (path: ReadonlyArray<PropertyKey>): string {
  let out = ''
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`
    else out += out === '' ? String(part) : `.${String(part)}`
  }
  return out === '' ? '(root)' : out
}

/** Raised when a config file cannot be used; carries every problem found, each with its path. */
export class ConfigError extends Error {
  readonly problems: ConfigProblem[]

  constructor (source: string, problems: ConfigProblem[]) {
    super(`invalid configuration in ${source}:\n` + problems.map((p) => `  ${p.path}: ${p.message}`).join('\n'))
    this.name = 'ConfigError'
    this.problems = problems
  }
}
