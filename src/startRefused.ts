/**
 * A start that Sluice refuses on purpose, for a reason the operator must fix
 * (a wrong key, secrets it cannot move): main.ts prints the message alone
 * (a stack would only hide it) and exits 1.
 */
export class StartRefusedError extends Error {
  override name = 'StartRefusedError';
}
