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
