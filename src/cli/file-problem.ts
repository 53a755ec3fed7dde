/**
 * Why a file could not be read, in words, for the errors the CLI prints:
 * `no such file`, `it is a folder`, `permission denied`; the system's own
 * message otherwise.
 */
export function fileProblem(error: unknown): string {
  switch ((error as NodeJS.ErrnoException | null)?.code) {
    case 'ENOENT':
      return 'no such file';
    case 'EISDIR':
      return 'it is a folder, not a file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
  }
  return error instanceof Error ? error.message : String(error);
}

/** Whether `error` comes from the file system (it names the system call that failed). */
export function isFileSystemError(error: unknown): error is NodeJS.ErrnoException {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).syscall === 'string';
}
