/** Authentication context classes Vigil publishes, weakest first. */
export const ACR = {
  oneFactor: 'urn:vigil:acr:1fa',
  twoFactor: 'urn:vigil:acr:2fa',
  phishingResistant: 'urn:vigil:acr:phr',
} as const;

export const ACR_VALUES = [ACR.oneFactor, ACR.twoFactor, ACR.phishingResistant];

export type AcrValue = (typeof ACR_VALUES)[number];

export function acrLevel(acr: string | undefined): number {
  return acr ? ACR_VALUES.indexOf(acr as AcrValue) : -1;
}
