import { acrForAmr, combineAmr, satisfies, strongestAcr, weakestKnownAcr } from '../../src/mfa/levels.ts';

const ONE = 'urn:vigil:acr:1fa';
const TWO = 'urn:vigil:acr:2fa';
const PHR = 'urn:vigil:acr:phr';

describe('acrForAmr', () => {
  test.each<[string[], string]>([
    [[], ONE],
    [['pwd'], ONE],
    [['otp'], ONE],
    [['hwk'], ONE],
    [['swk'], ONE],
    [['user'], ONE],
    [['pwd', 'pwd'], ONE],
    [['pwd', 'otp'], TWO],
    [['pwd', 'otp', 'mfa'], TWO],
    [['mfa'], ONE],
    [['pwd', 'hwk'], TWO],
    [['pwd', 'swk'], TWO],
    [['otp', 'swk'], TWO],
    [['hwk', 'user'], PHR],
    [['swk', 'user'], PHR],
    [['pwd', 'hwk', 'user', 'mfa'], PHR],
    [['pwd', 'otp', 'user'], TWO],
  ])('%j → %s', (amr, acr) => {
    expect(acrForAmr(amr)).toBe(acr);
  });
});

describe('combineAmr', () => {
  test.each<[string[], string[], string[]]>([
    [[], [], []],
    [[], ['pwd'], ['pwd']],
    [['pwd'], [], ['pwd']],
    [['pwd'], ['otp'], ['mfa', 'otp', 'pwd']],
    [['pwd'], ['pwd'], ['pwd']],
    [['pwd', 'otp', 'mfa'], ['otp'], ['mfa', 'otp', 'pwd']],
    // A stale mfa without two factors behind it is dropped.
    [['mfa', 'pwd'], [], ['pwd']],
    [['pwd'], ['hwk'], ['hwk', 'mfa', 'pwd']],
    [[], ['hwk', 'user'], ['hwk', 'mfa', 'user']],
    [[], ['swk'], ['swk']],
    // Two WebAuthn kinds are still one factor.
    [['hwk'], ['swk'], ['hwk', 'swk']],
    [['otp'], ['otp'], ['otp']],
  ])('%j + %j → %j', (existing, added, combined) => {
    expect(combineAmr(existing, added)).toEqual(combined);
  });

  test('does not change its inputs', () => {
    const existing = ['pwd', 'mfa'];
    const added = ['otp'];
    combineAmr(existing, added);
    expect(existing).toEqual(['pwd', 'mfa']);
    expect(added).toEqual(['otp']);
  });

  test('the acr of a password then an app code is 2fa', () => {
    expect(acrForAmr(combineAmr(['pwd'], ['otp']))).toBe(TWO);
    expect(acrForAmr(combineAmr(['pwd'], ['hwk', 'user']))).toBe(PHR);
  });
});

describe('strongestAcr', () => {
  test.each<[(string | undefined)[], string | undefined]>([
    [[], undefined],
    [[undefined], undefined],
    [[ONE], ONE],
    [[undefined, ONE], ONE],
    [[ONE, TWO], TWO],
    [[TWO, ONE], TWO],
    [[PHR, ONE, TWO], PHR],
    [[ONE, PHR, undefined], PHR],
    [['urn:other:acr'], undefined],
    [['urn:other:acr', ONE], ONE],
    [[TWO, 'urn:other:acr'], TWO],
    [[''], undefined],
  ])('%j → %s', (values, strongest) => {
    expect(strongestAcr(values)).toBe(strongest);
  });

  test('takes any iterable', () => {
    expect(strongestAcr(new Set([ONE, TWO]))).toBe(TWO);
  });
});

describe('weakestKnownAcr', () => {
  test.each<[string[], string | undefined]>([
    [[], undefined],
    [[ONE], ONE],
    [[TWO], TWO],
    [[PHR, TWO], TWO],
    [[TWO, PHR], TWO],
    [[PHR, ONE, TWO], ONE],
    [['urn:other:acr'], undefined],
    [['urn:other:acr', PHR], PHR],
    [[PHR, 'urn:other:acr'], PHR],
    [['0', '1', 'urn:vigil:acr:3fa'], undefined],
  ])('%j → %s', (values, weakest) => {
    expect(weakestKnownAcr(values)).toBe(weakest);
  });
});

describe('satisfies', () => {
  /** Whether the level one has (a row) satisfies each level that may be needed (a column). */
  const NEEDED = [ONE, TWO, PHR];
  const MATRIX: Array<[have: string, ...ok: boolean[]]> = [
    // have, then need: ONE, TWO, PHR
    [ONE, true, false, false],
    [TWO, true, true, false],
    [PHR, true, true, true],
  ];

  test.each<[string | undefined, string | undefined, boolean]>([
    [undefined, undefined, true],
    [ONE, undefined, true],
    [undefined, ONE, false],
    ...NEEDED.flatMap((need, column) => MATRIX.map(([have, ...ok]): [string, string, boolean] => [have, need, ok[column]])),
    ['urn:other:acr', ONE, false],
    ['urn:other:acr', TWO, false],
  ])('have %s, need %s → %s', (have, need, ok) => {
    expect(satisfies(have, need)).toBe(ok);
  });
});
