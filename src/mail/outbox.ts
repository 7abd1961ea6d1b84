import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { Logger } from '../observability/index.ts';
import { MailError, type Mailer, type MailMessage, type SentMail } from './message.ts';

export const OUTBOX_DIR = 'outbox';
const ID = /^\d{8}T\d{9}Z-[0-9a-f]{12}$/;
/** The time in an id (and in a partial file's name): 20261206T101500123Z. */
const ID_TIME = /^\.?(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z-[0-9a-f]{12}\.(?:json|partial)$/;

function writtenAt(name: string): number | undefined {
  const m = ID_TIME.exec(name);
  return m ? Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6], +m[7]) : undefined;
}

const storedMailSchema = z.object({
  id: z.string().regex(ID),
  createdAt: z.string(),
  from: z.string(),
  to: z.string(),
  subject: z.string(),
  text: z.string(),
  html: z.string().optional(),
});

export type StoredMail = z.infer<typeof storedMailSchema>;
export type MailSummary = Pick<StoredMail, 'id' | 'createdAt' | 'to' | 'subject'>;

/**
 * Mail kept on disk instead of sent: one JSON file per message (0600) in VIGIL_DATA_DIR/outbox
 * (0700), named by its id, which sorts by time.
 */
export class MailOutbox {
  readonly dir: string;

  constructor(dataDir: string) {
    this.dir = join(dataDir, OUTBOX_DIR);
  }

  async write(from: string, message: MailMessage, now = new Date()): Promise<StoredMail & { path: string }> {
    const id = `${now.toISOString().replace(/[-:.]/g, '')}-${randomBytes(6).toString('hex')}`;
    const stored: StoredMail = {
      id, createdAt: now.toISOString(), from, to: message.to, subject: message.subject, text: message.text, ...(message.html === undefined ? {} : { html: message.html }),
    };
    const path = join(this.dir, `${id}.json`);
    // Written aside and renamed: `vigil mail list` never reads half a message.
    const partial = join(this.dir, `.${id}.partial`);
    try {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      await writeFile(partial, `${JSON.stringify(stored, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
      await rename(partial, path);
    } catch (err) {
      throw new MailError(`could not write mail to ${this.dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    return { ...stored, path };
  }

  /**
   * Deletes the messages written before `before` (and what a crashed write left), so the links
   * they carry do not lie about for good; how many it deleted. Other files are left alone.
   */
  async purge(before: Date): Promise<number> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw err;
    }
    const old = names.filter((name) => (writtenAt(name) ?? Infinity) < before.getTime());
    await Promise.all(old.map((name) => rm(join(this.dir, name), { force: true })));
    return old.filter((name) => name.endsWith('.json')).length;
  }

  /** Every readable message, oldest first. */
  async list(): Promise<MailSummary[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const ids = names.filter((name) => name.endsWith('.json')).map((name) => name.slice(0, -'.json'.length)).filter((id) => ID.test(id)).sort();
    const found = await Promise.all(ids.map((id) => this.read(id)));
    return found.filter((mail) => mail !== undefined).map(({ id, createdAt, to, subject }) => ({ id, createdAt, to, subject }));
  }

  /** The message with this id, or undefined when there is none (or the id is not one). */
  async read(id: string): Promise<StoredMail | undefined> {
    if (!ID.test(id)) return undefined;
    let text: string;
    try {
      text = await readFile(join(this.dir, `${id}.json`), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    try {
      const parsed = storedMailSchema.safeParse(JSON.parse(text));
      return parsed.success && parsed.data.id === id ? parsed.data : undefined;
    } catch {
      return undefined;
    }
  }
}

/** The embedded default: mail goes to the outbox, and the log says where (never what). */
export class OutboxMailer implements Mailer {
  readonly outbox: MailOutbox;
  readonly #from: string;
  readonly #logger: Logger;

  constructor(outbox: MailOutbox, from: string, logger: Logger) {
    this.outbox = outbox;
    this.#from = from;
    this.#logger = logger;
  }

  async send(message: MailMessage): Promise<SentMail> {
    const stored = await this.outbox.write(this.#from, message);
    this.#logger.info({ mail: stored.id }, `mail written to ${stored.path}`);
    return { id: stored.id, path: stored.path };
  }
}
