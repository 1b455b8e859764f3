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
  list(): Promise<RemoteFile[]>;
  /** Downloads one file to `dest`; returns the bytes written. */
  download(file: RemoteFile, dest: string): Promise<number>;
}
