// What the service and the worker threads log through: the app's logger
// (pino, via fastify) in the server, a stub or nothing in tests.

export interface RuntimeLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}
