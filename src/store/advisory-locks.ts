/**
 * Every Postgres advisory lock Vigil takes, in one place: two purposes sharing an id would make
 * unrelated work wait on each other, or skip its turn (the purges try the lock and go on).
 */
export const ADVISORY_LOCKS = {
  migration: 7_411_203,
  auditAppend: 7_411_204,
  signingKeys: 7_411_205,
  riskPurge: 7_411_206,
  auditRetention: 7_411_207,
  payloadPurge: 7_411_208,
  upkeep: 0x5616_0001,
} as const;
