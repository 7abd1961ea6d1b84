/** CAEP 1.0 §3.3: a passkey is reported as a platform or a roaming authenticator, from its transports. */
import { passkeyCredentialType } from '../../../src/ssf/index.ts';

test.each<[string[], string]>([
  [['internal'], 'fido2-platform'],
  [['internal', 'hybrid'], 'fido2-platform'],
  [['usb'], 'fido2-roaming'],
  [['usb', 'nfc'], 'fido2-roaming'],
  [['ble'], 'fido2-roaming'],
  [['hybrid'], 'fido2-roaming'],
  [[], 'fido2-platform'],
  [['smart-card'], 'fido2-platform'],
])('transports %j → %s', (transports, expected) => {
  expect(passkeyCredentialType(transports)).toBe(expected);
});
