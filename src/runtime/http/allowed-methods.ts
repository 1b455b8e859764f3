// Requests no route takes: a known path asked with another method gets 405
// and Allow (OPTIONS: 204 and Allow), an unknown path 404. Which methods a
// path takes is collected from the routes as they are added.

import type { FastifyInstance } from 'fastify';
import { errorBody, sendJson } from './reply.js';
import { tfServingMethods } from './tfserving-routes.js';

/** The methods a request's path takes (none: no route has the path). */
export type MethodsFor = (url: string) => string[];

/** A route's URL as a pattern for concrete paths (`:param` one segment, `*` the rest). */
function routePattern(url: string): RegExp {
  const source = url
    .split('/')
    .map((seg) =>
      seg === '*'
        ? '.*'
        : seg.startsWith(':')
          ? '[^/]+'
          : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
    )
    .join('/');
  return new RegExp(`^${source}$`);
}

/**
 * Collects `app`'s routes from here on and answers the requests none of them
 * takes. Returns the methods each path takes, for the Allow header.
 */
export function answerUnrouted(app: FastifyInstance): MethodsFor {
  const routes: Array<{ pattern: RegExp; method: string }> = [];
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat())
      routes.push({ pattern: routePattern(route.url), method });
  });
  const methodsFor: MethodsFor = (url) => {
    const path = url.split('?')[0] ?? '';
    return (
      tfServingMethods(path) ?? [
        ...new Set(routes.filter((r) => r.pattern.test(path)).map((r) => r.method)),
      ]
    );
  };

  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0] ?? '';
    const allowed = methodsFor(req.url);
    if (allowed.length > 0) {
      if (req.method === 'OPTIONS') {
        return reply
          .code(204)
          .header('allow', [...allowed, 'OPTIONS'].join(', '))
          .send();
      }
      reply
        .header('allow', allowed.join(', '))
        .header('tensorfleet-error-code', 'METHOD_NOT_ALLOWED');
      return sendJson(
        reply,
        errorBody(`${req.method} is not allowed on ${path}; use ${allowed.join(' or ')}`),
        405,
      );
    }
    reply.header('tensorfleet-error-code', 'NOT_FOUND');
    return sendJson(reply, errorBody(`no route for ${req.method} ${path}`), 404);
  });
  return methodsFor;
}
