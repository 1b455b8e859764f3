// Where an Azure Blob Storage model lives and how to authenticate to it, read
// from the URI and the environment without loading the Azure SDK (pure).
//
// URIs: az://<account>/<container>/<path> or
// https://<account>.blob.core.windows.net/<container>/<path>[?<SAS>] (also the
// China and US Government clouds' hosts); <path> names a directory (prefix).
//
// Endpoint, first found: AZURE_STORAGE_BLOB_ENDPOINT (the account's blob
// service URL: Azurite, Azure Stack, private endpoints), the connection
// string's BlobEndpoint, the https URI's host, the connection string's
// EndpointSuffix, https://<account>.blob.core.windows.net.
//
// Credentials, first found: a SAS in the https URI, AZURE_STORAGE_CONNECTION_STRING
// (AccountKey or SharedAccessSignature), AZURE_STORAGE_SAS_TOKEN,
// AZURE_STORAGE_KEY (for AZURE_STORAGE_ACCOUNT, which must name the URI's
// account when set), TENSORFLEET_AZURE_ANONYMOUS=true (public containers),
// otherwise a Microsoft Entra token from @azure/identity's DefaultAzureCredential.

import { RuntimeError } from '../errors.js';

/** Hosts of the clouds' blob endpoints: an https URI on one of them is an Azure source. */
const BLOB_HOST_SUFFIXES = [
  '.blob.core.windows.net',
  '.blob.core.chinacloudapi.cn',
  '.blob.core.usgovcloudapi.net',
];

export type AzureAuth =
  | { kind: 'sas'; token: string; from: string }
  | { kind: 'key'; accountName: string; accountKey: string; from: string }
  | { kind: 'anonymous' }
  | { kind: 'token' };

export interface AzureBlobLocation {
  account: string;
  container: string;
  /** Blob name prefix: "" (the whole container) or ending in "/". */
  prefix: string;
  /** The account's blob service URL, without a trailing "/" or query. */
  endpoint: string;
  auth: AzureAuth;
  /** The URI for messages, without its SAS. */
  describe: string;
}

const ACCOUNT = /^[a-z0-9]{3,24}$/;
const CONTAINER = /^(?=.{3,63}$)[a-z0-9](?:[a-z0-9]|-(?!-))*[a-z0-9]$|^\$root$|^\$web$/;

export function isAzureBlobUri(uri: string): boolean {
  if (uri.startsWith('az://')) return true;
  if (!uri.startsWith('https://')) return false;
  try {
    const host = new URL(uri).hostname.toLowerCase();
    return BLOB_HOST_SUFFIXES.some((s) => host.endsWith(s));
  } catch {
    return false;
  }
}

function invalid(message: string): RuntimeError {
  return new RuntimeError('CONFIG_INVALID', message);
}

/** Account, container, prefix and (https form) host and SAS named by the URI. */
function parseUri(uri: string): {
  account: string;
  container: string;
  prefix: string;
  host: string | undefined;
  sas: string | undefined;
  describe: string;
} {
  const form =
    'az://<account>/<container>/<path> or https://<account>.blob.core.windows.net/<container>/<path>';
  let account: string;
  let segments: string[];
  let host: string | undefined;
  let sas: string | undefined;
  let describe = uri;
  if (uri.startsWith('az://')) {
    [account = '', ...segments] = uri.slice('az://'.length).split('/');
  } else {
    let url: URL;
    try {
      url = new URL(uri);
    } catch {
      throw invalid(`"${uri}" is not a URL (${form})`);
    }
    host = url.host.toLowerCase();
    account = host.split('.')[0] ?? '';
    if (url.search !== '') sas = url.search.slice(1);
    describe = `${url.origin}${url.pathname}`;
    try {
      segments = url.pathname.slice(1).split('/').map(decodeURIComponent);
    } catch {
      throw invalid(`"${describe}" has a malformed percent-encoding in its path`);
    }
  }
  const [container = '', ...path] = segments;
  if (!ACCOUNT.test(account)) {
    throw invalid(
      `"${describe}": "${account}" is not a storage account name (3 to 24 lowercase letters and digits; ${form})`,
    );
  }
  if (!CONTAINER.test(container)) {
    throw invalid(
      container === ''
        ? `"${describe}" names no container (${form})`
        : `"${describe}": "${container}" is not a container name (3 to 63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit)`,
    );
  }
  let prefix = path.join('/');
  if (prefix !== '' && !prefix.endsWith('/')) prefix += '/';
  return { account, container, prefix, host, sas, describe };
}

/** `a=b;c=d` settings, keys lowercased (Azure reads them case-insensitively). */
function parseConnectionString(value: string): Map<string, string> {
  const settings = new Map<string, string>();
  for (const part of value.split(';')) {
    if (part.trim() === '') continue;
    const eq = part.indexOf('=');
    if (eq <= 0) {
      throw invalid(
        `AZURE_STORAGE_CONNECTION_STRING is malformed: "${part.slice(0, 40)}" is not <name>=<value>`,
      );
    }
    settings.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).trim());
  }
  return settings;
}

function checkEndpoint(value: string, from: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid(`${from} "${value}" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw invalid(`${from} "${value}" is not an http(s) URL`);
  return `${url.origin}${url.pathname}`.replace(/\/+$/, '');
}

function sameAccount(account: string, named: string, from: string): void {
  if (named !== account) {
    throw invalid(`${from} is for storage account "${named}" but the model URI names "${account}"`);
  }
}

export function azureBlobLocation(
  uri: string,
  env: NodeJS.ProcessEnv = process.env,
): AzureBlobLocation {
  const { account, container, prefix, host, sas, describe } = parseUri(uri);
  const connection = env['AZURE_STORAGE_CONNECTION_STRING']
    ? parseConnectionString(env['AZURE_STORAGE_CONNECTION_STRING'])
    : undefined;

  let endpoint: string;
  if (env['AZURE_STORAGE_BLOB_ENDPOINT']) {
    endpoint = checkEndpoint(env['AZURE_STORAGE_BLOB_ENDPOINT'], 'AZURE_STORAGE_BLOB_ENDPOINT');
  } else if (connection?.get('blobendpoint')) {
    endpoint = checkEndpoint(
      connection.get('blobendpoint') as string,
      "AZURE_STORAGE_CONNECTION_STRING's BlobEndpoint",
    );
  } else if (host !== undefined) {
    endpoint = `https://${host}`;
  } else if (connection?.get('endpointsuffix')) {
    const protocol = connection.get('defaultendpointsprotocol') || 'https';
    endpoint = `${protocol}://${account}.blob.${connection.get('endpointsuffix') as string}`;
  } else {
    endpoint = `https://${account}.blob.core.windows.net`;
  }

  let auth: AzureAuth;
  if (sas !== undefined) {
    auth = { kind: 'sas', token: sas, from: 'the SAS in the model URI' };
  } else if (connection !== undefined) {
    const from = 'AZURE_STORAGE_CONNECTION_STRING';
    const name = connection.get('accountname');
    if (name) sameAccount(account, name, from);
    const key = connection.get('accountkey');
    const token = connection.get('sharedaccesssignature');
    if (key) {
      if (!name) throw invalid(`${from} has an AccountKey but no AccountName`);
      auth = {
        kind: 'key',
        accountName: name,
        accountKey: key,
        from: `the account key in ${from}`,
      };
    } else if (token) {
      auth = { kind: 'sas', token: token.replace(/^\?/, ''), from: `the SAS in ${from}` };
    } else {
      throw invalid(`${from} has neither an AccountKey nor a SharedAccessSignature`);
    }
  } else if (env['AZURE_STORAGE_SAS_TOKEN']) {
    auth = {
      kind: 'sas',
      token: env['AZURE_STORAGE_SAS_TOKEN'].replace(/^\?/, ''),
      from: 'the SAS in AZURE_STORAGE_SAS_TOKEN',
    };
  } else if (env['AZURE_STORAGE_KEY']) {
    const named = env['AZURE_STORAGE_ACCOUNT'];
    if (named) sameAccount(account, named, 'AZURE_STORAGE_ACCOUNT');
    auth = {
      kind: 'key',
      accountName: account,
      accountKey: env['AZURE_STORAGE_KEY'],
      from: 'the account key in AZURE_STORAGE_KEY',
    };
  } else if (env['TENSORFLEET_AZURE_ANONYMOUS'] === 'true') {
    auth = { kind: 'anonymous' };
  } else {
    auth = { kind: 'token' };
  }
  return { account, container, prefix, endpoint, auth, describe };
}

/** What the credentials were, for an access-denied message (never the secret). */
export function describeAuth(auth: AzureAuth): string {
  switch (auth.kind) {
    case 'sas':
    case 'key':
      return auth.from;
    case 'anonymous':
      return 'anonymous access (TENSORFLEET_AZURE_ANONYMOUS=true)';
    case 'token':
      return 'a Microsoft Entra token from DefaultAzureCredential';
  }
}
