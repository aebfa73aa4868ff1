/**
 * A JSON object as stored in a jsonb column. `any` rather than `unknown` in
 * the values because TypeORM's partial-entity types cannot see through
 * `unknown`; the values were validated against a JSON Schema before storing.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type JsonObject = Record<string, any>;
