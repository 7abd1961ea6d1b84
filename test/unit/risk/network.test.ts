import { networkSignals } from '../../../src/risk/index.ts';
import { ctx } from './fixtures.ts';

describe('networkSignals', () => {
  test.each<[string, string[] | undefined, [string, number][]]>([
    ['no tags', undefined, []],
    ['empty tags', [], []],
    ['anonymiser', ['anonymizer'], [['network_anonymizer', 25]]],
    ['known bad', ['known_bad'], [['network_known_bad', 60]]],
    ['corporate lowers', ['corporate'], [['network_corporate', -20]]],
    ['several', ['anonymizer', 'known_bad'], [['network_anonymizer', 25], ['network_known_bad', 60]]],
    ['duplicates count once', ['anonymizer', 'anonymizer'], [['network_anonymizer', 25]]],
    ['a tag the policy gives no points is ignored', ['partner', 'toString', '__proto__'], []],
  ])('%s', (_name, tags, expected) => {
    expect(networkSignals(ctx(tags === undefined ? {} : { networkTags: tags })).map((s) => [s.name, s.contribution])).toEqual(expected);
  });

  test('custom tags and points from the policy', () => {
    const signals = networkSignals(ctx({ networkTags: ['tor', 'office'] }), { tor: 40, office: -10, zero: 0 });
    expect(signals.map((s) => [s.name, s.contribution])).toEqual([['network_tor', 40], ['network_office', -10]]);
    expect(signals[0].reason).toBe('Address 81.2.69.142 is on the operator\'s "tor" list');
    expect(signals[1].reason).toMatch(/which lowers the risk$/);
    expect(networkSignals(ctx({ networkTags: ['zero'] }), { zero: 0 })).toEqual([]);
  });

  test('not applied to a client’s server address', () => {
    expect(networkSignals(ctx({ networkTags: ['known_bad'], ipIsUser: false }))).toEqual([]);
  });
});
