import type { Principal } from './principal.js'
import { andThen, orElse, type MaybePromise } from './maybe-async.js'

/**
 * Which scopes imply which narrower ones: `{ "calculator:admin": ["calculator:write"],
 * "calculator:write": ["calculator:read"] }`. Implication is transitive (admin implies read too).
 */
export type ScopeHierarchy = Readonly<Record<string, readonly string[]>>

/** Every scope `scope` implies, itself included, following the hierarchy to the end. */
export function impliedScopes (scope: string, hierarchy: ScopeHierarchy): Set<string> {
  const found = new Set([scope])
  const pending = [scope]
  while (pending.length > 0) {
    const next = pending.pop() as string
    for (const narrower of Object.hasOwn(hierarchy, next) ? hierarchy[next] ?? [] : []) {
      if (!found.has(narrower)) {
        found.add(narrower)
        pending.push(narrower)
      }
    }
  }
  return found
}

/** A granted `*` covers everything; a granted `prefix:*` covers every permission under `prefix:`. */
function covers (permission: string, required: string): boolean {
  return permission === required || permission === '*' || (permission.endsWith(':*') && required.startsWith(permission.slice(0, -1)))
}

/** Each hierarchy's implications, worked out once: this runs on every tools/call. */
const closures = new WeakMap<ScopeHierarchy, Map<string, Set<string>>>()

function closureOf (hierarchy: ScopeHierarchy): Map<string, Set<string>> {
  let closure = closures.get(hierarchy)
  if (closure === undefined) {
    closure = new Map(Object.keys(hierarchy).map((scope) => [scope, impliedScopes(scope, hierarchy)]))
    closures.set(hierarchy, closure)
  }
  return closure
}

const NO_HIERARCHY: ScopeHierarchy = Object.freeze({})

/**
 * Permissions are strings such as `calculator:add`. A principal holds a permission when one of its
 * grants covers it, directly, through a wildcard, or through a broader scope of the hierarchy.
 */
export function grants (granted: readonly string[], required: string, hierarchy: ScopeHierarchy = NO_HIERARCHY): boolean {
  for (const permission of granted) {
    if (covers(permission, required)) return true
  }
  if (hierarchy === NO_HIERARCHY) return false
  const closure = closureOf(hierarchy)
  for (const permission of granted) {
    const implied = closure.get(permission)
    if (implied === undefined) continue
    for (const scope of implied) if (covers(scope, required)) return true
  }
  return false
}

/**
 * The fewest scopes that still cover every permission in `required` (a scope another one implies
 * is left out): what RFC 9728 `scopes_supported` should list. `offline_access` is never one of
 * them: refresh tokens are not something a resource requires.
 */
export function minimalScopes (required: readonly string[], hierarchy: ScopeHierarchy): string[] {
  const distinct = [...new Set(required)].filter((scope) => scope !== 'offline_access')
  return distinct.filter((scope) => !distinct.some((other) => other !== scope && grants([other], scope, hierarchy) && !grants([scope], other, hierarchy)))
}

export interface ToolPermissionOptions {
  /** The prefix of default permissions: `<prefix>:<tool>`. */
  prefix: string
  /** Per-tool overrides of the required permission. */
  overrides: Readonly<Record<string, string>>
}

/** The permission a tool requires: its override, else `<prefix>:<tool>`. */
export function requiredPermission (tool: string, options: ToolPermissionOptions): string {
  return Object.hasOwn(options.overrides, tool) ? options.overrides[tool] as string : `${options.prefix}:${tool}`
}

/** Decides whether a principal may use a tool. May be async (a policy service); any error denies. */
export type AccessCheck = (principal: Principal, tool: string, permission: string) => boolean | Promise<boolean>

/** The default check: the principal's permissions, with wildcards and the scope hierarchy. */
export function permissionCheck (hierarchy: ScopeHierarchy = NO_HIERARCHY): AccessCheck {
  return (principal, _tool, permission) => grants(principal.permissions, permission, hierarchy)
}

/**
 * The one access decision for both `tools/list` and `tools/call`: fail closed, so a check that
 * throws, rejects or answers anything but `true` denies.
 */
export function mayUse (check: AccessCheck, principal: Principal, tool: string, permission: string): MaybePromise<boolean> {
  try {
    // Synchronous answers stay synchronous: this runs on every tools/call.
    return orElse(andThen(check(principal, tool, permission), (value) => value === true), false)
  } catch {
    return false
  }
}
