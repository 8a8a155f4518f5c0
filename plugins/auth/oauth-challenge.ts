import type { FastifyRequest } from 'fastify'
import type { DeploymentContext, FailureReason } from '../../core/authenticator.js'
import { bearerChallenge } from '../../core/challenges.js'

// The 401 challenge of the strategies whose tokens come from an OAuth authorization server (jwt,
// introspection): RFC 6750 Bearer, pointing at the RFC 9728 metadata that names the server.

function scopesFor (request: FastifyRequest, context: DeploymentContext): readonly string[] {
  const scopes = context.challengeScopes
  if (scopes === undefined) return []
  try {
    return scopes(request)
  } catch (error) {
    // A challenge must not fail: without scope= it is still a complete answer.
    request.log.error({ err: error }, 'challengeScopes failed; the challenge names no scope')
    return []
  }
}

const DESCRIPTIONS: Partial<Record<FailureReason, string>> = { token_expired: 'token expired', token_revoked: 'token revoked' }

/** `Bearer realm=…[, error="invalid_token"[, error_description=…]][, resource_metadata=…][, scope=…]`. */
export function oauthBearerChallenge (realm: string, reason: FailureReason, request: FastifyRequest, context: DeploymentContext): string {
  return bearerChallenge({
    realm,
    error: reason === 'missing_credentials' ? undefined : 'invalid_token',
    errorDescription: DESCRIPTIONS[reason],
    resourceMetadata: context.resourceMetadataUrl?.(request),
    scope: scopesFor(request, context)
  })
}
