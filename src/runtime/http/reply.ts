// How the runtime writes a JSON answer: the exact content type clients
// compare with, and the {"error": ...} document every error is sent as.

import type { FastifyReply } from 'fastify';

/** Longest error message sent: an error quotes the request, and must not echo a huge one back. */
const MAX_ERROR_CHARS = 1000;

export function errorBody(message: string): string {
  const capped =
    message.length > MAX_ERROR_CHARS
      ? `${message.slice(0, MAX_ERROR_CHARS)}... (${message.length - MAX_ERROR_CHARS} more characters)`
      : message;
  return JSON.stringify({ error: capped });
}

/** The text as is: fastify would otherwise append `; charset=utf-8` to a JSON type. */
const asIs = (payload: unknown): string => payload as string;

/**
 * Sends JSON text with `Content-Type: application/json` exactly, as TF
 * Serving, Triton and KServe do: KServe's Python SDK compares the header
 * with that string and, on a mismatch, loses every error message.
 */
export function sendJson(reply: FastifyReply, json: string, status = 200): FastifyReply {
  return reply.code(status).header('content-type', 'application/json').serializer(asIs).send(json);
}
