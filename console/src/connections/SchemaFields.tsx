/**
 * A form generated from a connector's JSON Schema (configSchema,
 * credentialsSchema): strings, numbers and booleans become inputs, nested
 * objects fieldsets, a oneOf of objects told apart by a `const` property a
 * choice of variant; anything else (a map of headers) a JSON text area.
 * Secrets (writeOnly, or every credentials field) are password inputs and
 * start empty: credentials are never read back.
 */
import { useId } from 'react';

export type JsonObject = Record<string, unknown>;

interface Schema {
  type?: string | string[];
  title?: string;
  description?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  oneOf?: Schema[];
  const?: unknown;
  writeOnly?: boolean;
  default?: unknown;
  additionalProperties?: unknown;
}

const asSchema = (value: unknown): Schema => (value && typeof value === 'object' ? (value as Schema) : {});

/** The property a oneOf's variants are told apart by (http credentials: `type`). */
function discriminator(variants: Schema[]): string | null {
  const first = variants[0]?.properties ?? {};
  for (const name of Object.keys(first)) {
    if (variants.every((v) => v.properties?.[name]?.const !== undefined)) return name;
  }
  return null;
}

interface FieldsProps {
  schema: unknown;
  value: JsonObject;
  onChange: (value: JsonObject) => void;
  /** Names the form's part for labels: "Config", "Credentials". */
  label: string;
  secret?: boolean;
  disabled?: boolean;
}

export function SchemaFields({ schema, value, onChange, label, secret = false, disabled = false }: FieldsProps) {
  const s = asSchema(schema);
  const id = useId();
  if (s.oneOf && s.oneOf.length > 0) {
    const variants = s.oneOf.map(asSchema);
    const key = discriminator(variants);
    if (key) {
      const chosen = variants.find((v) => v.properties?.[key]?.const === value[key]);
      return (
        <fieldset>
          <legend>{label}</legend>
          <label htmlFor={`${id}-variant`}>{`${label} ${key}`}</label>
          <select
            id={`${id}-variant`}
            value={typeof value[key] === 'string' ? (value[key] as string) : ''}
            disabled={disabled}
            onChange={(e) => onChange(e.target.value === '' ? {} : { [key]: e.target.value })}
          >
            <option value="">{secret ? 'none (keep as they are)' : 'none'}</option>
            {variants.map((v) => {
              const name = String(v.properties?.[key]?.const);
              return (
                <option key={name} value={name}>
                  {name}
                </option>
              );
            })}
          </select>
          {chosen && <ObjectFields schema={chosen} value={value} onChange={onChange} skip={key} secret={secret} disabled={disabled} />}
        </fieldset>
      );
    }
  }
  return (
    <fieldset>
      <legend>{label}</legend>
      <ObjectFields schema={s} value={value} onChange={onChange} secret={secret} disabled={disabled} />
    </fieldset>
  );
}

function ObjectFields({
  schema,
  value,
  onChange,
  skip,
  secret,
  disabled,
}: {
  schema: Schema;
  value: JsonObject;
  onChange: (value: JsonObject) => void;
  skip?: string;
  secret: boolean;
  disabled: boolean;
}) {
  const properties = Object.entries(schema.properties ?? {}).filter(([name]) => name !== skip);
  const set = (name: string, next: unknown): void => {
    const copy = { ...value };
    if (next === undefined) delete copy[name];
    else copy[name] = next;
    onChange(copy);
  };
  return (
    <>
      {properties.map(([name, raw]) => (
        <Field
          key={name}
          name={name}
          schema={asSchema(raw)}
          required={(schema.required ?? []).includes(name)}
          value={value[name]}
          onChange={(next) => set(name, next)}
          secret={secret}
          disabled={disabled}
        />
      ))}
    </>
  );
}

function Field({
  name,
  schema,
  required,
  value,
  onChange,
  secret,
  disabled,
}: {
  name: string;
  schema: Schema;
  required: boolean;
  value: unknown;
  onChange: (value: unknown) => void;
  secret: boolean;
  disabled: boolean;
}) {
  const id = useId();
  const label = schema.title ?? name;
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  const hint = schema.description ? <small>{schema.description}</small> : null;
  if (type === 'boolean') {
    return (
      <label className="check">
        <input type="checkbox" checked={value === true} disabled={disabled} onChange={(e) => onChange(e.target.checked)} />
        {label}
      </label>
    );
  }
  if (type === 'integer' || type === 'number') {
    return (
      <div className="field">
        <label htmlFor={id}>{label}</label>
        <input
          id={id}
          type="number"
          value={typeof value === 'number' ? value : ''}
          placeholder={schema.default !== undefined ? String(schema.default) : undefined}
          required={required}
          disabled={disabled}
          onChange={(e) => onChange(e.target.value === '' ? undefined : Number(e.target.value))}
        />
        {hint}
      </div>
    );
  }
  if (type === 'string') {
    const hidden = secret || schema.writeOnly === true;
    return (
      <div className="field">
        <label htmlFor={id}>{label}</label>
        <input
          id={id}
          type={hidden ? 'password' : 'text'}
          autoComplete={hidden ? 'new-password' : 'off'}
          value={typeof value === 'string' ? value : ''}
          required={required}
          disabled={disabled}
          onChange={(e) => onChange(e.target.value === '' ? undefined : e.target.value)}
        />
        {hint}
      </div>
    );
  }
  if (type === 'object' && schema.properties) {
    const inner = value && typeof value === 'object' ? (value as JsonObject) : {};
    return (
      <fieldset>
        <legend>{label}</legend>
        <ObjectFields
          schema={schema}
          value={inner}
          onChange={(next) => onChange(Object.keys(next).length === 0 ? undefined : next)}
          secret={secret}
          disabled={disabled}
        />
      </fieldset>
    );
  }
  return <JsonField id={id} label={`${label} (JSON)`} value={value} onChange={onChange} disabled={disabled} />;
}

function JsonField({ id, label, value, onChange, disabled }: { id: string; label: string; value: unknown; onChange: (v: unknown) => void; disabled: boolean }) {
  const text = value === undefined ? '' : JSON.stringify(value, null, 2);
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <textarea
        id={id}
        defaultValue={text}
        rows={3}
        disabled={disabled}
        onBlur={(e) => {
          const raw = e.target.value.trim();
          if (raw === '') return onChange(undefined);
          try {
            onChange(JSON.parse(raw));
            e.target.setCustomValidity('');
          } catch {
            e.target.setCustomValidity('not valid JSON');
            e.target.reportValidity();
          }
        }}
      />
    </div>
  );
}
