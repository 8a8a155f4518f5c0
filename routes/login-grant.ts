import type { PendingAuthorization } from '../plugins/token-issuer/login-sessions.js'
import { intersectScopes, narrowScope } from '../plugins/token-issuer/token-service.js'
import type { LoginFlow } from './authorize.js'

// What a signed-in user's authorization request grants, shared by the consent page and prompt=none.

/** What the signed-in user may grant the pending request: its scope narrowed by client and user; `invalid_scope` when nothing is left. */
export function grantable (flow: LoginFlow, pending: PendingAuthorization, user: string): string[] {
  const client = flow.login.clients.permissionsOf(pending.clientId) ?? []
  const held = flow.login.users.permissionsOf(user) ?? []
  return narrowScope(intersectScopes(client, held, flow.scopeHierarchy), pending.scope, flow.scopeHierarchy)
}

/** Whether the user's remembered consent to the client covers `permissions` (always false under prompt=consent). */
export async function consentCovers (flow: LoginFlow, pending: PendingAuthorization, user: string, permissions: readonly string[]): Promise<boolean> {
  if (pending.forceConsent) return false
  const remembered = await flow.login.consents.scopes(pending.clientId, user)
  return permissions.every((scope) => remembered.includes(scope))
}

/** A new authorization code for the request, the user and what they granted. */
export async function createCode (flow: LoginFlow, pending: PendingAuthorization, user: string, permissions: string[]): Promise<string> {
  return await flow.login.codes.create({
    clientId: pending.clientId,
    redirectUri: pending.redirectUri,
    codeChallenge: pending.codeChallenge,
    user,
    permissions,
    ...(pending.resource === undefined ? {} : { resource: pending.resource }),
    ...(pending.audience === undefined ? {} : { audience: pending.audience })
  })
}
