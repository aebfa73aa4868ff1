/**
 * Roles, ordered by what they may do: ADMINISTER ⊃ MANAGE ⊃ MONITOR.
 * ADMINISTER and MANAGE change settings and run flows; MONITOR only reads and
 * subscribes; only ADMINISTER manages tokens.
 */
export const ROLES = ['MONITOR', 'MANAGE', 'ADMINISTER'] as const;
export type RoleName = (typeof ROLES)[number];

export function roleAllows(held: RoleName, required: RoleName): boolean {
  return ROLES.indexOf(held) >= ROLES.indexOf(required);
}

export function isRoleName(value: string): value is RoleName {
  return (ROLES as readonly string[]).includes(value);
}
