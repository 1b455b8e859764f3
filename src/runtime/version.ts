// The runtime's version: Tensorfleet's own.
export { VERSION as RUNTIME_VERSION } from '../version.js';
