/**
 * Failures every metadata store reports the same way, whatever its engine, because the rules act on them.
 */

/**
 * COMMIT failed after the transaction's work succeeded: the change may or may not have been applied (a connection
 * lost while the database committed). Nothing the change might reference may be removed.
 */
export class CommitOutcomeUnknownError extends Error {
  constructor(override readonly cause: unknown) {
    super('commit outcome unknown');
  }
}

/** An insert whose key (or another unique column) is already taken. */
export class DuplicateKeyError extends Error {
  constructor(override readonly cause: unknown) {
    super('duplicate key');
  }
}
