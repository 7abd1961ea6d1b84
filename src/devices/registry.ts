import { randomBytes } from 'node:crypto';
import type { JWK } from 'jose';
import type { Queryable } from '../store/index.ts';
import type { ExternalCompliance, PostureFields } from './policy.ts';
import type { DevicePublicKey, ReportDevice, VerifiedReport } from './report.ts';

export interface Device extends ReportDevice {
  accountId: string;
  name: string;
  jkt: string;
  createdAt: Date;
  lastReport?: PostureFields;
  lastReportSource?: 'device' | 'mdm';
  /** A trusted transmitter's last verdict (Shared Signals). */
  externalCompliance?: ExternalCompliance;
}

interface Row {
  id: string;
  account_id: string;
  name: string;
  public_jwk: JWK | string;
  jkt: string;
  created_at: Date | string;
  last_posture: PostureFields | string | null;
  last_report_at: Date | string | null;
  last_report_source: 'device' | 'mdm' | null;
  external_compliance: ExternalCompliance | string | null;
}

const json = <T>(v: T | string): T => (typeof v === 'string' ? JSON.parse(v) as T : v);

const toDevice = (row: Row): Device => ({
  id: row.id,
  accountId: row.account_id,
  name: row.name,
  publicJwk: json(row.public_jwk),
  jkt: row.jkt,
  createdAt: new Date(row.created_at),
  lastReport: row.last_posture === null ? undefined : json(row.last_posture),
  lastReportAt: row.last_report_at === null ? undefined : new Date(row.last_report_at).getTime(),
  lastReportSource: row.last_report_source ?? undefined,
  ...(row.external_compliance === null ? {} : { externalCompliance: json(row.external_compliance) }),
});

export class DuplicateDeviceKeyError extends Error {
  override name = 'DuplicateDeviceKeyError';
}

export class TooManyDevicesError extends Error {
  override name = 'TooManyDevicesError';
}

/** The most devices one person may register. */
export const MAX_DEVICES_PER_ACCOUNT = 50;
const COLUMNS = 'id, account_id, name, public_jwk, jkt, created_at, last_posture, last_report_at, last_report_source, external_compliance';

/** Registered devices and their last accepted posture report (SQL `devices`). */
export class DeviceRegistry {
  readonly #db: Queryable;

  constructor(db: Queryable) {
    this.#db = db;
  }

  async register(accountId: string, name: string, key: DevicePublicKey): Promise<Device> {
    const { rows: count } = await this.#db.query<{ n: string | number }>('SELECT count(*) AS n FROM devices WHERE account_id = $1', [accountId]);
    if (Number(count[0]?.n ?? 0) >= MAX_DEVICES_PER_ACCOUNT) throw new TooManyDevicesError(`at most ${MAX_DEVICES_PER_ACCOUNT} devices per person`);
    const id = `dev_${randomBytes(16).toString('base64url')}`;
    const { rows } = await this.#db.query<Row>(
      `INSERT INTO devices (id, account_id, name, public_jwk, jkt) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (jkt) DO NOTHING RETURNING ${COLUMNS}`,
      [id, accountId, name, JSON.stringify(key.jwk), key.jkt],
    );
    if (!rows[0]) throw new DuplicateDeviceKeyError('this key is already registered for a device');
    return toDevice(rows[0]);
  }

  async find(id: string): Promise<Device | undefined> {
    const { rows } = await this.#db.query<Row>(`SELECT ${COLUMNS} FROM devices WHERE id = $1`, [id]);
    return rows[0] && toDevice(rows[0]);
  }

  /** A person's devices; all devices (at most `limit`) when `accountId` is undefined. */
  async list(accountId: string | undefined, limit = 500): Promise<Device[]> {
    const { rows } = accountId === undefined
      ? await this.#db.query<Row>(`SELECT ${COLUMNS} FROM devices ORDER BY created_at, id LIMIT $1`, [limit])
      : await this.#db.query<Row>(`SELECT ${COLUMNS} FROM devices WHERE account_id = $1 ORDER BY created_at, id LIMIT $2`, [accountId, limit]);
    return rows.map(toDevice);
  }

  async remove(id: string): Promise<boolean> {
    const { rowCount } = await this.#db.query('DELETE FROM devices WHERE id = $1', [id]);
    return rowCount > 0;
  }

  /**
   * Stores a trusted transmitter's verdict unless the same transmitter's later one is stored
   * already (compare-and-set on its time), or another transmitter's not-compliant verdict would be
   * withdrawn by this one's compliant (only the transmitter that said so may). False: not stored.
   */
  async recordExternalCompliance(deviceId: string, verdict: ExternalCompliance): Promise<boolean> {
    const { rowCount } = await this.#db.query(
      `UPDATE devices SET external_compliance = $2::jsonb
       WHERE id = $1 AND (external_compliance IS NULL
         OR (external_compliance->>'issuer' = $3 AND (external_compliance->>'at')::float8 <= $4)
         OR (external_compliance->>'issuer' <> $3 AND (NOT $5::boolean OR (external_compliance->>'compliant')::boolean)))`,
      [deviceId, JSON.stringify(verdict), verdict.issuer, verdict.at, verdict.compliant],
    );
    return rowCount > 0;
  }

  /**
   * Stores a verified report if it is newer than the last accepted one (compare-and-set, so two
   * copies of one report sent at once store it once). The device as stored with it; undefined:
   * refused as not newer.
   */
  async recordReport(report: VerifiedReport, source: 'device' | 'mdm'): Promise<Device | undefined> {
    const { rows } = await this.#db.query<Row>(
      `UPDATE devices SET last_posture = $2, last_report_at = $3, last_report_jti = $4, last_report_source = $5
       WHERE id = $1 AND (last_report_at IS NULL OR last_report_at < $3) RETURNING ${COLUMNS}`,
      [report.deviceId, JSON.stringify(report.fields), new Date(report.reportedAt).toISOString(), report.jti ?? null, source],
    );
    return rows[0] && toDevice(rows[0]);
  }
}
