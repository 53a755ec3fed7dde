/**
 * Why a file could not be read (or written), in words, for the errors the
 * CLI prints: `no such file`, `it is a folder`, `permission denied`; the
 * system's own message otherwise.
 */
export function fileProblem(error: unknown, doing: 'read' | 'write' = 'read'): string {
  switch ((error as NodeJS.ErrnoException | null)?.code) {
    case 'ENOENT':
      // Writing creates the file: what is missing is a folder on its path.
      return doing === 'read' ? 'no such file' : 'no such folder';
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
