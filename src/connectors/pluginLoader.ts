/**
 * Loads the connector plugins named in CONNECTOR_PLUGINS (npm package names
 * or file paths; ES modules or CommonJS), checks each one's shape and SDK
 * version, and registers it beside the built-in connectors. Any problem stops
 * the start with an error naming the plugin and the problem: a server never
 * runs with half its plugins.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ConnectorRegistry } from './registry';
import { SDK_VERSION, STEP_KINDS, type Connector } from './sdk';

export class PluginLoadError extends Error {
  override name = 'PluginLoadError';
  constructor(specifier: string, problem: string) {
    super(`connector plugin "${specifier}": ${problem}`);
  }
}

/** What each step kind must implement. */
const STEP_FUNCTIONS = { EXPORT: 'exportPage', DOWNLOAD: 'download', LOOKUP: 'lookup', IMPORT: 'importRecords' } as const;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The problems with a plugin's default export, in words a plugin author can act on. */
export function shapeProblems(candidate: unknown): string[] {
  if (!isObject(candidate)) return ['its default export is not an object (use defineConnector({...}) as the default export)'];
  const problems: string[] = [];
  if (candidate.sdkVersion !== SDK_VERSION) {
    problems.push(`it was built for connector SDK version ${JSON.stringify(candidate.sdkVersion)}, but this Sluice supports version ${SDK_VERSION}`);
  }
  if (typeof candidate.type !== 'string' || !/^[a-z][a-z0-9-]{0,62}$/.test(candidate.type)) {
    problems.push('type must be a lower-case id such as "my-crm" (letters, digits, dashes)');
  }
  for (const field of ['displayName', 'version'] as const) {
    if (typeof candidate[field] !== 'string' || candidate[field] === '') problems.push(`${field} must be a non-empty string`);
  }
  for (const field of ['configSchema', 'credentialsSchema'] as const) {
    if (!isObject(candidate[field])) problems.push(`${field} must be a JSON Schema object`);
  }
  if (typeof candidate.application !== 'function') problems.push('application(config) must be a function');
  if (candidate.ping !== undefined && typeof candidate.ping !== 'function') problems.push('ping, when given, must be a function');
  const steps = candidate.steps;
  if (!isObject(steps) || !STEP_KINDS.some((k) => steps[k] !== undefined)) {
    problems.push(`steps must implement at least one of ${STEP_KINDS.join(', ')}`);
  } else {
    for (const key of Object.keys(steps)) {
      if (!(STEP_KINDS as readonly string[]).includes(key)) problems.push(`steps.${key} is not a step kind (${STEP_KINDS.join(', ')})`);
    }
    for (const kind of STEP_KINDS) {
      const step = steps[kind];
      if (step === undefined) continue;
      const fn = STEP_FUNCTIONS[kind];
      if (!isObject(step) || !isObject(step.configSchema)) problems.push(`steps.${kind}.configSchema must be a JSON Schema object`);
      if (!isObject(step) || typeof step[fn] !== 'function') problems.push(`steps.${kind}.${fn} must be a function`);
    }
  }
  return problems;
}

async function importPlugin(specifier: string, cwd: string): Promise<unknown> {
  // Paths are relative to the working directory, and package names resolve
  // from there too, so that `npm install my-plugin` beside Sluice is enough.
  const requireFromCwd = createRequire(path.join(cwd, 'package.json'));
  const resolved = requireFromCwd.resolve(specifier);
  let mod: { default?: unknown };
  try {
    // require() loads CommonJS and (Node 20.19+) ES modules alike.
    mod = requireFromCwd(resolved) as { default?: unknown };
  } catch (error) {
    const code = (error as { code?: string }).code;
    // An ES module with top-level await cannot be required: import it.
    if (code !== 'ERR_REQUIRE_ASYNC_MODULE' && code !== 'ERR_REQUIRE_ESM') throw error;
    mod = (await import(pathToFileURL(resolved).href)) as { default?: unknown };
  }
  let exported = mod.default ?? mod;
  // CommonJS compiled from ESM keeps its export one level down.
  if (isObject(exported) && exported.sdkVersion === undefined && isObject(exported.default)) exported = exported.default;
  return exported;
}

export async function loadPlugins(specifiers: string[], registry: ConnectorRegistry, cwd = process.cwd()): Promise<Connector[]> {
  const loaded: Connector[] = [];
  for (const specifier of specifiers) {
    let candidate: unknown;
    try {
      candidate = await importPlugin(specifier, cwd);
    } catch (error) {
      throw new PluginLoadError(specifier, `cannot be loaded: ${error instanceof Error ? error.message : String(error)}`);
    }
    const problems = shapeProblems(candidate);
    if (problems.length > 0) throw new PluginLoadError(specifier, problems.join('; '));
    const connector = candidate as Connector;
    if (registry.get(connector.type)) {
      throw new PluginLoadError(specifier, `its type "${connector.type}" is already installed (by the built-in connectors or an earlier plugin)`);
    }
    try {
      registry.register(connector);
    } catch (error) {
      throw new PluginLoadError(specifier, `its schemas do not compile: ${error instanceof Error ? error.message : String(error)}`);
    }
    loaded.push(connector);
  }
  return loaded;
}
