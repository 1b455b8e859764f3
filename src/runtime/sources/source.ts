// A model source lists the files of a model and downloads each one.

export interface RemoteFile {
  /** Path relative to the model directory, with "/" separators. */
  path: string;
  /** Size from the listing, when the source knows it (checked after download). */
  size: number | undefined;
}

export interface ModelSource {
  /** Human-readable location for messages. */
  readonly describe: string;
  /** Lists the model's files; `signal` aborts the requests (a stalled listing). */
  list(signal?: AbortSignal): Promise<RemoteFile[]>;
  /** Downloads one file to `dest`; returns the bytes written. `signal` aborts it (a stalled download). */
  download(file: RemoteFile, dest: string, signal?: AbortSignal): Promise<number>;
}

/** The names directly inside one directory of a source (no "/" in them). */
export interface DirectoryEntries {
  files: string[];
  directories: string[];
}

/**
 * A source that can list one directory level: what a versioned base path
 * (`<base>/<version>/`) needs to find its versions without listing every file.
 */
export interface DirectoryLister {
  readonly describe: string;
  /**
   * Lists `path`, relative to the source's location ("" is the location itself,
   * otherwise "/"-separated, without a leading or trailing "/"). A location
   * that does not exist fails FETCH_NOT_FOUND, one that is a file FETCH_NOT_FOUND
   * saying so, access refused FETCH_UNAUTHORIZED.
   */
  listDirectory(path: string, signal?: AbortSignal): Promise<DirectoryEntries>;
}

export function canListDirectories<S extends object>(source: S): source is S & DirectoryLister {
  return typeof (source as Partial<DirectoryLister>).listDirectory === 'function';
}
