import { jwksMaxAge } from '../../src/http/index.ts';

describe('how long a cache may keep the JWKS', () => {
  test.each([
    ['the defaults: capped at five minutes', 3600, 60, 300],
    ['a short publish lead: the lead less the refresh interval', 240, 60, 180],
    ['keys that sign at once: not cached', 0, 60, 0],
    ['a lead shorter than the refresh interval: not cached', 30, 60, 0],
  ])('%s', (_name, publish, refresh, expected) => {
    expect(jwksMaxAge({ VIGIL_KEY_PUBLISH_SECONDS: publish, VIGIL_KEY_REFRESH_SECONDS: refresh })).toBe(expected);
  });
});
