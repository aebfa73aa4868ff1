/**
 * The installed connectors, each with its schemas compiled once. The API asks
 * it to validate what users type in; the engine asks it for the connector.
 */
import Ajv, { type ValidateFunction, type ErrorObject } from 'ajv';
import addFormats from 'ajv-formats';
import type { JsonObject } from '../json';
import type { Connector, StepKindName } from './sdk';
import { STEP_KINDS } from './sdk';

export type Validation = { ok: true; value: JsonObject } | { ok: false; problems: string[] };

interface CompiledConnector {
  connector: Connector;
  config: ValidateFunction;
  credentials: ValidateFunction;
  steps: Map<StepKindName, ValidateFunction>;
}

function problems(errors: ErrorObject[] | null | undefined): string[] {
  return (errors ?? []).map((e) => `${e.instancePath || '(root)'} ${e.message ?? 'is invalid'}`.trim());
}

export class ConnectorRegistry {
  // useDefaults fills documented defaults (timeoutMs, method, batchSize...) into what is stored.
  private readonly ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false });
  private readonly byType = new Map<string, CompiledConnector>();

  constructor(connectors: Connector[] = []) {
    addFormats(this.ajv);
    for (const c of connectors) this.register(c);
  }

  register(connector: Connector): void {
    if (this.byType.has(connector.type)) throw new Error(`connector type "${connector.type}" is already installed`);
    const steps = new Map<StepKindName, ValidateFunction>();
    for (const kind of STEP_KINDS) {
      const step = connector.steps[kind];
      if (step) steps.set(kind, this.ajv.compile(step.configSchema));
    }
    this.byType.set(connector.type, {
      connector,
      config: this.ajv.compile(connector.configSchema),
      credentials: this.ajv.compile(connector.credentialsSchema),
      steps,
    });
  }

  list(): Connector[] {
    return [...this.byType.values()].map((c) => c.connector);
  }

  get(type: string): Connector | undefined {
    return this.byType.get(type)?.connector;
  }

  supportedStepKinds(connector: Connector): StepKindName[] {
    return STEP_KINDS.filter((k) => connector.steps[k] !== undefined);
  }

  validateConfig(type: string, config: unknown): Validation {
    return this.validate(this.compiled(type).config, config ?? {});
  }

  validateCredentials(type: string, credentials: unknown): Validation {
    return this.validate(this.compiled(type).credentials, credentials);
  }

  /** undefined when the connector does not support `kind`. */
  validateStepConfig(type: string, kind: StepKindName, config: unknown): Validation | undefined {
    const validate = this.compiled(type).steps.get(kind);
    return validate ? this.validate(validate, config ?? {}) : undefined;
  }

  private compiled(type: string): CompiledConnector {
    const compiled = this.byType.get(type);
    if (!compiled) throw new Error(`no connector of type "${type}"`);
    return compiled;
  }

  private validate(validate: ValidateFunction, value: unknown): Validation {
    // Validate a copy: defaults are filled in place and the caller's input stays as given.
    const copy: unknown = structuredClone(value);
    if (typeof copy !== 'object' || copy === null || Array.isArray(copy)) {
      return { ok: false, problems: ['(root) must be an object'] };
    }
    return validate(copy) ? { ok: true, value: copy as JsonObject } : { ok: false, problems: problems(validate.errors) };
  }
}
