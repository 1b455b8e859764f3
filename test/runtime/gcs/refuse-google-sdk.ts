// node --import this-file: a resolve hook that refuses @google-cloud/storage
// and google-auth-library, so a test can tell whether a process loads them.
import { register } from 'node:module';

const hook = `
export async function resolve(specifier, context, next) {
  if (specifier === '@google-cloud/storage' || specifier === 'google-auth-library') {
    throw new Error('refused to load ' + specifier);
  }
  return next(specifier, context);
}`;
register(`data:text/javascript,${encodeURIComponent(hook)}`);
