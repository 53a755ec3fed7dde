/** A mistake in how a command was called; reported with the verb's usage, exit 3. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
