// The HTTP-only ceiling: a fastify server that reads each request body as
// bytes (fastify's own buffer parser, not the runtime's body reader, so this
// is what plain fastify allows) and answers with a canned response, the
// same bytes the runtime sent for the same request. No decode, no model, no
// worker: what the HTTP stack alone allows on this machine, next to the load
// generator. Started as a child process by the bench:
// argv = port jsonResponseFile binaryResponseFile binaryHeaderLength.

import { readFileSync } from 'node:fs';
import Fastify from 'fastify';

const [portArg, jsonFile, binaryFile, binaryHeaderLength] = process.argv.slice(2);
if (jsonFile === undefined || binaryFile === undefined || binaryHeaderLength === undefined) {
  throw new Error('usage: canned-server <port> <json> <binary> <binaryHeaderLength>');
}
const json = readFileSync(jsonFile);
const binary = readFileSync(binaryFile);

const app = Fastify({ bodyLimit: 64 * 1024 * 1024 });
app.removeAllContentTypeParsers();
app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => {
  done(null, body);
});
app.post('/v1/models/*', (_req, reply) => {
  void reply.code(200).header('content-type', 'application/json').send(json);
});
app.post('/v2/models/:model/infer', (_req, reply) => {
  void reply
    .code(200)
    .header('content-type', 'application/octet-stream')
    .header('inference-header-content-length', binaryHeaderLength)
    .send(binary);
});
await app.listen({ host: '127.0.0.1', port: Number(portArg ?? 0) });
const addr = app.server.address();
process.stdout.write(`listening ${typeof addr === 'object' && addr !== null ? addr.port : 0}\n`);
