// hf://<org>/<repo>[@<revision>][/<path>]: a directory of a model repository on
// the Hugging Face Hub, the form huggingface_hub's HfFileSystem reads. The
// revision is a branch, tag or commit (default "main"); a branch with "/" in
// its name is written percent-encoded (feature%2Fx), except the Hub's own
// refs/pr/<n> and refs/convert/<name>, which may be written as they are.

import { RuntimeError } from '../errors.js';

export interface HfLocation {
  /** "<org>/<repo>". */
  repo: string;
  /** Branch, tag or commit, decoded. */
  revision: string;
  /** Directory inside the repository: "" (its root) or "a/b", without "/" at either end. */
  path: string;
}

const FORM = 'hf://<org>/<repo>[@<revision>]/<path>';

// The Hub's rule for user, organization and repository names (huggingface_hub's
// validate_repo_id): letters, digits, "-", "_", ".", at most 96, not starting
// or ending with "-" or ".", and no "--" or "..".
const NAME = /^[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,94}[A-Za-z0-9_])?$/;

// Refs the Hub creates whose names hold "/" (pull requests, conversions).
const SPECIAL_REF = /^refs\/(?:pr\/[0-9]+|convert\/[A-Za-z0-9_]+)/;

function hasControl(s: string): boolean {
  return [...s].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f);
}

function invalid(uri: string, why: string): RuntimeError {
  return new RuntimeError('CONFIG_INVALID', `invalid model URI "${uri}": ${why} (${FORM})`);
}

function checkName(uri: string, what: string, name: string): void {
  if (name === '') throw invalid(uri, `the ${what} is missing`);
  if (!NAME.test(name) || name.includes('--') || name.includes('..')) {
    throw invalid(
      uri,
      `${what} "${name}" is not a Hub name: letters, digits, "-", "_" and "." (at most 96, not at either end, no "--" or "..")`,
    );
  }
}

/** Why `revision` cannot name a git ref or commit, or undefined when it can. */
function revisionProblem(revision: string): string | undefined {
  if (revision === '') return 'the revision after "@" is empty';
  // git check-ref-format's rules, as far as a branch, tag or sha can break them.
  if (hasControl(revision) || /[ ~^:?*[\\@]/.test(revision))
    return `revision "${revision}" holds a character git refs cannot (space, control, ~ ^ : ? * [ \\ @)`;
  if (revision.includes('..') || revision.includes('//'))
    return `revision "${revision}" holds ".." or "//"`;
  if (/^[/.]|[/.]$|\.lock$|\/\./.test(revision))
    return `revision "${revision}" starts or ends with "/" or ".", ends with ".lock", or has a component starting with "."`;
  return undefined;
}

export function parseHfUri(uri: string): HfLocation {
  if (!uri.startsWith('hf://')) throw invalid(uri, 'it does not start with hf://');
  const rest = uri.slice('hf://'.length);
  const [org = '', after = ''] = splitOnce(rest, '/');
  checkName(uri, 'organization (or user)', org);
  let repoAndRev: string;
  let path: string;
  const at = after.indexOf('@');
  const slash = after.indexOf('/');
  if (at !== -1 && (slash === -1 || at < slash)) {
    // The revision ends at the next "/", except for the Hub's refs with "/" in them.
    const revStart = after.slice(at + 1);
    const special = SPECIAL_REF.exec(revStart);
    const revEnd = special
      ? special[0].length
      : revStart.indexOf('/') === -1
        ? revStart.length
        : revStart.indexOf('/');
    repoAndRev = after.slice(0, at + 1 + revEnd);
    path = revStart.slice(revEnd);
  } else {
    repoAndRev = slash === -1 ? after : after.slice(0, slash);
    path = slash === -1 ? '' : after.slice(slash);
  }
  const [name = '', rawRevision] = splitOnce(repoAndRev, '@');
  checkName(uri, 'repository', name);
  let revision = 'main';
  if (rawRevision !== undefined) {
    try {
      revision = decodeURIComponent(rawRevision);
    } catch {
      throw invalid(uri, `revision "${rawRevision}" has a broken %-escape`);
    }
    const problem = revisionProblem(revision);
    if (problem !== undefined) throw invalid(uri, problem);
  }
  if (path !== '' && !path.startsWith('/'))
    throw invalid(uri, `expected "/" after the revision, found "${path}"`);
  const dir = path.replace(/^\/+/, '').replace(/\/+$/, '');
  if (dir !== '') {
    for (const segment of dir.split('/')) {
      if (segment === '' || segment === '.' || segment === '..')
        throw invalid(uri, `the path "${dir}" has an empty, "." or ".." segment`);
    }
    if (hasControl(dir) || dir.includes('\\'))
      throw invalid(uri, `the path "${dir}" holds a control character or "\\"`);
  }
  return { repo: `${org}/${name}`, revision, path: dir };
}

/** The URI of `loc` (what parseHfUri reads back to the same location). */
export function formatHfUri(loc: HfLocation): string {
  const rev =
    loc.revision === 'main'
      ? ''
      : `@${SPECIAL_REF.test(loc.revision) && SPECIAL_REF.exec(loc.revision)?.[0] === loc.revision ? loc.revision : encodeURIComponent(loc.revision)}`;
  return `hf://${loc.repo}${rev}${loc.path === '' ? '' : `/${loc.path}`}`;
}

function splitOnce(s: string, sep: string): [string, string | undefined] {
  const i = s.indexOf(sep);
  return i === -1 ? [s, undefined] : [s.slice(0, i), s.slice(i + 1)];
}
