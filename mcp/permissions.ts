import type { Principal } from '../plugins/auth/principal.js'

/**
 * Permissions are strings such as `calculator:add`. A granted `*` covers everything, and a
 * granted `prefix:*` covers every permission that starts with `prefix:`.
 */
export function grants (granted: readonly string[], required: string): boolean {
  for (const permission of granted) {
    if (permission === required || permission === '*') return true
    if (permission.endsWith(':*') && required.startsWith(permission.slice(0, -1))) return true
  }
  return false
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

export const permissionCheck: AccessCheck = (principal, _tool, permission) => grants(principal.permissions, permission)

/**
 * The one access decision for both `tools/list` and `tools/call`: fail closed, so a check that
 * throws, rejects or answers anything but `true` denies.
 */
export function mayUse (check: AccessCheck, principal: Principal, tool: string, permission: string): boolean | Promise<boolean> {
  try {
    const allowed = check(principal, tool, permission)
    // Synchronous answers stay synchronous: this runs on every tools/call.
    if (allowed instanceof Promise) return allowed.then((value) => value === true, () => false)
    return allowed === true
  } catch {
    return false
  }
}
