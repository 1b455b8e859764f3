export * from './spec.js';
export * from './status.js';
export * from './modeldeployment.js';
export { customResourceDefinition, openAPISchema } from './crd.js';
