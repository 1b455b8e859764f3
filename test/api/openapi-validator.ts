// In-process stand-in for the API server's schema checks (see
// src/api/json-schema.ts). CEL rules are not evaluated here; the integration
// tier proves them against a real API server.
export { makeValidator, toJsonSchema } from '../../src/api/json-schema.js';
export type { SchemaError } from '../../src/api/json-schema.js';
