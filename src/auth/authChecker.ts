/**
 * The one place roles are enforced: resolvers declare the least role they
 * need with `@Authorized('MANAGE')` or `@Authorized('ADMINISTER')`; reading
 * needs any live token, which requireViewer (http/requireViewer.ts) checks for
 * every operation before anything resolves.
 */
import type { AuthChecker } from 'type-graphql';
import type { RequestContext } from '../schema/common/context';
import { forbidden, unauthenticated } from '../schema/common/errors';
import { isRoleName, roleAllows, type RoleName } from './role';

export const authChecker: AuthChecker<RequestContext> = ({ context }, roles) => {
  if (!context.viewer) throw unauthenticated();
  const required: RoleName[] = roles.filter(isRoleName);
  for (const role of required) {
    if (!roleAllows(context.viewer.role, role)) throw forbidden(role);
  }
  return true;
};
