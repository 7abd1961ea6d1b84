import { factorChangeProof, hasSecondFactor } from '../../src/account/factor-proof.ts';

const ONE = 'urn:vigil:acr:1fa';
const TWO = 'urn:vigil:acr:2fa';
const PHR = 'urn:vigil:acr:phr';
const NOW = 1_800_000_000;
const REAUTH = 300;

describe('hasSecondFactor', () => {
  test.each([
    [{ totp: false, passkeys: [], recoveryLeft: 0 }, false],
    [{ totp: true, passkeys: [], recoveryLeft: 0 }, true],
    [{ totp: false, passkeys: [{}], recoveryLeft: 0 }, true],
    // Recovery codes alone pass a 2fa sign-in, so they count.
    [{ totp: false, passkeys: [], recoveryLeft: 1 }, true],
  ])('%j → %s', (factors, expected) => {
    expect(hasSecondFactor(factors)).toBe(expected);
  });
});

describe('factorChangeProof', () => {
  test.each<[string, number, boolean, string]>([
    // No second factor: a recent password is enough.
    [ONE, 0, false, 'ok'],
    [ONE, REAUTH, false, 'ok'],
    [ONE, REAUTH + 1, false, 'sign-in-again'],
    // A second factor: a recent sign-in must have proved one.
    [ONE, 0, true, 'second-factor'],
    [ONE, REAUTH, true, 'second-factor'],
    [TWO, 0, true, 'ok'],
    [PHR, 10, true, 'ok'],
    [TWO, REAUTH + 1, true, 'sign-in-again'],
    [ONE, REAUTH + 1, true, 'sign-in-again'],
    // An acr Vigil does not know is no proof.
    ['urn:other:acr', 0, true, 'second-factor'],
  ])('acr %s, %is ago, second factor %s → %s', (acr, age, secondFactor, expected) => {
    expect(factorChangeProof({ acr, authTime: NOW - age }, secondFactor, REAUTH, NOW)).toBe(expected);
  });
});
