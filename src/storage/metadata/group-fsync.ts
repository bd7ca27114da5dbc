/**
 * Group commit for SQLite's write-ahead log. SQLite runs with `synchronous=NORMAL` (a commit writes its WAL frames
 * but does not fsync them), and a request is acknowledged only after `sync()` has fsynced the WAL file: the same
 * guarantee as `synchronous=FULL`, but the fsync runs in the thread pool instead of blocking the event loop inside
 * better-sqlite3, and concurrent requests share one fsync.
 *
 * `sync()` resolves after an fsync that started after every commit made before the call, so a commit that returned
 * before `sync()` was called is durable when it resolves. Given a count of the commits made so far, it does not wait
 * for an fsync that no commit needs: it joins one under way if nothing has committed since that one began, and
 * answers at once if nothing has committed since the last one that succeeded began. Without the count, each call
 * waits for an fsync that starts after it.
 */
import { type FileHandle, open } from 'node:fs/promises';

export type FsyncFile = (path: string) => Promise<void>;

/**
 * Syncs one file's data through a handle kept open between calls (the WAL lives as long as the database connection
 * that writes it, so the handle stays valid); a failure drops the handle so the next call reopens it.
 */
export function keptOpenFsync(): FsyncFile & { close(): Promise<void> } {
  let handle: FileHandle | undefined;
  const fsync = async (path: string) => {
    try {
      handle ??= await open(path, 'r');
    } catch (err) {
      // No WAL file yet: nothing was written through it.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    try {
      // fdatasync: it flushes the frames and any change of size (all that WAL recovery reads) but not the
      // modification time, which on ext4 and xfs costs a journal commit of its own when the WAL is rewritten in place.
      await handle.datasync();
    } catch (err) {
      const broken = handle;
      handle = undefined;
      await broken.close().catch(() => {});
      throw err;
    }
  };
  return Object.assign(fsync, {
    async close() {
      await handle?.close().catch(() => {});
      handle = undefined;
    },
  });
}

export class GroupFsync {
  private running: Promise<void> | undefined;
  private next: Promise<void> | undefined;
  /** The commit count when the fsync under way began. */
  private runningCovers = -1;
  /** The commit count when the last successful fsync began: every commit up to it is durable. */
  private durableUpTo = -1;

  constructor(
    private readonly path: string,
    private readonly fsync: FsyncFile,
    /** Commits made so far by the writer whose changes this file holds; it must never go down. */
    private readonly commits?: () => number,
  ) {}

  sync(): Promise<void> {
    const now = this.commits?.();
    if (now !== undefined && now <= this.durableUpTo) return Promise.resolve();
    if (!this.running) return this.start();
    if (now !== undefined && now <= this.runningCovers) return this.running;
    // An fsync is under way, possibly started before the caller's commit: join the one after it, which every
    // caller arriving meanwhile shares.
    this.next ??= this.running.then(
      () => this.startNext(),
      () => this.startNext(),
    );
    return this.next;
  }

  private startNext(): Promise<void> {
    this.next = undefined;
    return this.start();
  }

  private start(): Promise<void> {
    const covers = this.commits?.() ?? -1;
    const run = this.fsync(this.path).then(
      () => {
        this.durableUpTo = Math.max(this.durableUpTo, covers);
        if (this.running === run) this.running = undefined;
      },
      (err: unknown) => {
        if (this.running === run) this.running = undefined;
        throw err;
      },
    );
    this.running = run;
    this.runningCovers = covers;
    return run;
  }
}
