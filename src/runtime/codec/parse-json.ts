// JSON.parse for request bodies: errors that say what is wrong, and TF
// Serving's bare NaN, Infinity and -Infinity tokens, which JSON has not.

import { RuntimeError } from '../errors.js';

/** JSON.parse with messages that say what is wrong (NaN/Infinity are not JSON). */
export function parseJson(buf: Buffer, what: string): unknown {
  if (buf.length === 0)
    throw new RuntimeError('INVALID_JSON', `the ${what} is empty; expected a JSON object`);
  const text = buf.toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    const hint = /(^|[^A-Za-z"])(NaN|-?Infinity)([^A-Za-z"]|$)/.test(text)
      ? ' (NaN and Infinity are not JSON numbers: the TF Serving API takes them as bare tokens, the Open Inference Protocol in binary tensors only)'
      : '';
    throw new RuntimeError(
      'INVALID_JSON',
      `the ${what} is not valid JSON: ${(err as Error).message}${hint}`,
    );
  }
}

/**
 * The text with TF Serving's bare NaN, Infinity and -Infinity tokens (outside
 * strings) replaced by NON_FINITE_TOKENS strings, or undefined when it has none.
 */
export function rewriteNonFinite(text: string): string | undefined {
  let out = '';
  let from = 0;
  let found = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      // Skip the string, escapes included.
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
      continue;
    }
    if (c !== 'N' && c !== 'I' && c !== '-') continue;
    const token = ['NaN', 'Infinity', '-Infinity'].find((t) => text.startsWith(t, i));
    if (token === undefined || /[A-Za-z0-9_]/.test(text[i + token.length] ?? '')) continue;
    out += `${text.slice(from, i)}"\\u0000${token}"`;
    i += token.length - 1;
    from = i + 1;
    found = true;
  }
  return found ? out + text.slice(from) : undefined;
}

/** TF Serving's JSON: strict JSON, or JSON with its NaN/Infinity tokens. */
export function parseTfServingJson(buf: Buffer): unknown {
  try {
    return parseJson(buf, 'request body');
  } catch (err) {
    const rewritten = rewriteNonFinite(buf.toString('utf8'));
    if (rewritten === undefined) throw err;
    try {
      return JSON.parse(rewritten) as unknown;
    } catch {
      throw err;
    }
  }
}
