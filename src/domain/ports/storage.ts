/**
 * Bytes of file storage each org uses (photos and attachments), kept as one counter per org that every change to
 * an org's media moves in the change's own transaction (record-changes.ts), so that the quota is judged against
 * exact figures on every engine.
 */
export interface StorageStore {
  /** Moves the org's counter by `delta` bytes and returns the new figure (inside the change's transaction). */
  add(orgId: string, delta: number): Promise<number>;
  /** Bytes the org uses (0 when it has none). */
  used(orgId: string): Promise<number>;
  /** Sets the counter to what the org's photo and attachment rows add up to, and returns it. */
  recount(orgId: string): Promise<number>;
}
