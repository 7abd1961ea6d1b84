import { effectiveRoles, parseElevationSettings, ElevationSettingsError } from '../../../src/elevation/index.ts';

const settings = parseElevationSettings(JSON.stringify({
  roles: {
    ops: { max_minutes: 30, min_acr: 'urn:vigil:acr:1fa' },
    admin: { max_minutes: 60, approval: { approvers_role: 'approver', count: 2 }, min_acr: 'urn:vigil:acr:phr' },
  },
  break_glass: ['Glass@Example.com'],
}));

test('an elevation counts until its end to the millisecond, whatever is cached', () => {
  const active = [{ role: 'ops', expiresAt: 10_000 }];
  expect(effectiveRoles(['viewer'], active, settings, 'urn:vigil:acr:1fa', 9_999)).toEqual(['ops', 'viewer']);
  expect(effectiveRoles(['viewer'], active, settings, 'urn:vigil:acr:1fa', 10_000)).toEqual(['viewer']);
});

test('an elevated role is carried only by tokens of a sign-in at its min_acr; standing roles always', () => {
  const active = [{ role: 'admin', expiresAt: Date.now() + 60_000 }];
  expect(effectiveRoles(['viewer'], active, settings, 'urn:vigil:acr:2fa')).toEqual(['viewer']);
  expect(effectiveRoles(['viewer'], active, settings, undefined)).toEqual(['viewer']);
  expect(effectiveRoles(['viewer'], active, settings, 'urn:vigil:acr:phr')).toEqual(['admin', 'viewer']);
});

test('a role no longer in the file is no longer elevated', () => {
  expect(effectiveRoles([], [{ role: 'dba', expiresAt: Date.now() + 60_000 }], settings, 'urn:vigil:acr:phr')).toEqual([]);
});

test('the file: defaults filled in, emails lower-cased, mistakes named with their path', () => {
  expect(settings.roles.get('admin')!.approval).toEqual({ approvers_role: 'approver', count: 2, acr: 'urn:vigil:acr:phr', max_age_seconds: 600 });
  expect(settings.roles.get('ops')!.approval).toBe('none');
  expect([...settings.breakGlass]).toEqual(['glass@example.com']);
  expect(() => parseElevationSettings('{"roles":{"ops":{"max_minutes":0}}}')).toThrow(/roles\.ops\.max_minutes/);
  expect(() => parseElevationSettings('{"roles":{"ops":{"max_minutes":5,"min_acr":"gold"}}}')).toThrow(/roles\.ops\.min_acr/);
  expect(() => parseElevationSettings('{"rolez":{}}')).toThrow(ElevationSettingsError);
  expect(() => parseElevationSettings('not json')).toThrow(/not JSON/);
});
