// What a directory URL lists over HTTP, which has no listing of its own: the
// index page a web server generates for a directory (nginx `autoindex`, Apache
// `mod_autoindex`, `python -m http.server`, S3/GCS website hosting behind a
// proxy), as HTML links, or as nginx's `autoindex_format json`. A link counts
// when it names a direct child of the directory: "1/" is a directory, "a.json"
// a file; parent links, sort links ("?C=N;O=D") and other hosts are not entries.

import type { DirectoryEntries } from './source.js';

const LINK = /<a\s[^>]*?href\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+))/gi;

function decodeEntities(s: string): string {
  return s
    .replace(/&quot;/g, '"')
    .replace(/&#39;|&apos;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/** The direct child a link names, or undefined when it names anything else. */
function childOf(dir: URL, href: string): { name: string; directory: boolean } | undefined {
  let target: URL;
  try {
    target = new URL(decodeEntities(href), dir);
  } catch {
    return undefined;
  }
  if (target.origin !== dir.origin || target.search !== '') return undefined;
  if (!target.pathname.startsWith(dir.pathname)) return undefined;
  let rest: string;
  try {
    rest = decodeURIComponent(target.pathname.slice(dir.pathname.length));
  } catch {
    return undefined;
  }
  const directory = rest.endsWith('/');
  const name = directory ? rest.slice(0, -1) : rest;
  if (name === '' || name.includes('/') || name === '.' || name === '..') return undefined;
  return { name, directory };
}

function fromJson(body: string): DirectoryEntries | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed)) return undefined;
  const entries: DirectoryEntries = { files: [], directories: [] };
  for (const item of parsed as unknown[]) {
    if (typeof item !== 'object' || item === null) continue;
    const { name, type } = item as { name?: unknown; type?: unknown };
    if (typeof name !== 'string' || name === '' || name.includes('/')) continue;
    if (type === 'directory') entries.directories.push(name);
    else if (type === 'file') entries.files.push(name);
  }
  return entries;
}

/**
 * The entries of the index page `body` served for the directory URL `dir`
 * (ending in "/"); undefined when the body is no index (neither nginx's JSON
 * listing nor HTML).
 */
export function parseDirectoryIndex(
  body: string,
  contentType: string,
  dir: URL,
): DirectoryEntries | undefined {
  if (/json/i.test(contentType)) return fromJson(body);
  if (!/html/i.test(contentType) && !/<a\s/i.test(body)) return undefined;
  const files = new Set<string>();
  const directories = new Set<string>();
  for (const m of body.matchAll(LINK)) {
    const child = childOf(dir, m[1] ?? m[2] ?? m[3] ?? '');
    if (child !== undefined) (child.directory ? directories : files).add(child.name);
  }
  return { files: [...files], directories: [...directories] };
}
