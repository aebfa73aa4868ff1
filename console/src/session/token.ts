/**
 * The API token lives in sessionStorage only: it goes with the tab, never to
 * disk for good, and is never sent anywhere but this origin's API.
 */
const KEY = 'sluice.apiToken';

export const storedToken = (): string | null => sessionStorage.getItem(KEY);
export const storeToken = (token: string): void => sessionStorage.setItem(KEY, token);
export const forgetToken = (): void => sessionStorage.removeItem(KEY);
