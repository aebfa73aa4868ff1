/**
 * Secrets have one place: `credentials` (contract: "Credentials belong to
 * their application"). A connection's config is returned to every role, so a
 * secret in it is a secret shown to MONITOR; these checks refuse one before
 * it is stored, for every connector whose config has the http shape
 * (`headers`, `baseUrl`).
 *
 * Also what a header may carry at all, checked when stored instead of failing
 * at call time: a name is an RFC 7230 token, a value has no CR, LF or NUL (a
 * header injection otherwise). Messages name the header, never its value.
 */

/** The names the contract calls secret-looking: the standard ones, and any containing these words (any case). */
const SECRET_HEADERS = new Set(['authorization', 'proxy-authorization', 'cookie']);
const SECRET_WORDS = ['key', 'token', 'secret', 'password', 'session'] as const;

/** RFC 7230 §3.2.6 token: what a header field name may be. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const FORBIDDEN_IN_VALUE = /[\r\n\0]/;

/** Why `name` looks like a secret ("its name contains \"key\""), or null. */
export function secretLookingHeader(name: string): string | null {
  const lower = name.toLowerCase();
  if (SECRET_HEADERS.has(lower)) return `${name} carries credentials`;
  const word = SECRET_WORDS.find((w) => lower.includes(w));
  return word ? `its name contains "${word}"` : null;
}

/** True when a URL string has a user name or password (user:password@host). */
export function hasUserInfo(url: string): boolean {
  try {
    const parsed = new URL(url);
    return parsed.username !== '' || parsed.password !== '';
  } catch {
    return false;
  }
}

/** A name safe to quote in a message: a token is; anything else is not repeated. */
function quoted(name: string): string {
  return TOKEN.test(name) ? `"${name}"` : 'a header';
}

/** What is wrong with a connection config's headers and baseUrl; empty when nothing is. */
export function configSecretProblems(config: Record<string, unknown>): string[] {
  const problems: string[] = [];
  if (typeof config.baseUrl === 'string' && hasUserInfo(config.baseUrl)) {
    problems.push(
      'config.baseUrl has a user name or password in it (user:password@host): config is readable by every role; put them in credentials ({ "type": "basic", "username": …, "password": … }) and give baseUrl without them',
    );
  }
  const headers = config.headers;
  if (headers !== null && typeof headers === 'object' && !Array.isArray(headers)) {
    for (const [name, value] of Object.entries(headers as Record<string, unknown>)) {
      if (!TOKEN.test(name)) {
        problems.push(
          "config.headers has a header name that is not an RFC 7230 token (only letters, digits and !#$%&'*+-.^_`|~; no spaces, CR or LF)",
        );
        continue;
      }
      const secret = secretLookingHeader(name);
      if (secret) {
        problems.push(
          `config.headers.${name} looks like a secret (${secret}): config is readable by every role; put it in credentials ({ "type": "header", "name": "${name}", "value": … }), which are encrypted and never returned`,
        );
      }
      if (typeof value === 'string' && FORBIDDEN_IN_VALUE.test(value)) {
        problems.push(`config.headers.${name} has a value with CR, LF or NUL, which no HTTP header may carry`);
      }
    }
  }
  return problems;
}

/** What is wrong with credentials that become a header (bearer token, header name and value); never echoes a value. */
export function credentialHeaderProblems(credentials: unknown): string[] {
  if (credentials === null || typeof credentials !== 'object') return [];
  const c = credentials as Record<string, unknown>;
  const problems: string[] = [];
  if (c.type === 'header') {
    if (typeof c.name === 'string' && !TOKEN.test(c.name)) {
      problems.push("credentials.name is not an RFC 7230 token (only letters, digits and !#$%&'*+-.^_`|~; no spaces, CR or LF)");
    }
    if (typeof c.value === 'string' && FORBIDDEN_IN_VALUE.test(c.value)) {
      problems.push(`credentials.value (for ${typeof c.name === 'string' ? quoted(c.name) : 'the header'}) has CR, LF or NUL, which no HTTP header may carry`);
    }
  }
  if (c.type === 'bearer' && typeof c.token === 'string' && FORBIDDEN_IN_VALUE.test(c.token)) {
    problems.push('credentials.token has CR, LF or NUL, which no HTTP header may carry');
  }
  return problems;
}
