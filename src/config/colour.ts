/** sRGB colours as #rrggbb, and their WCAG 2 contrast. */
export const HEX_COLOUR = /^#[0-9a-f]{6}$/i;

/** WCAG 2.x AA for normal-size text. */
export const AA_CONTRAST = 4.5;

function luminance(hex: string): number {
  const [r, g, b] = [1, 3, 5].map((i) => {
    const s = parseInt(hex.slice(i, i + 2), 16) / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

export function contrastRatio(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

/**
 * What the pages draw with and on the accent colour, per scheme (public/vigil.css): the text on an
 * accent button, and the card that accent links and headings sit on.
 */
export const ACCENT_SURROUNDINGS = {
  light: { onAccent: '#ffffff', card: '#ffffff' },
  dark: { onAccent: '#0d1b2e', card: '#1f242b' },
} as const;

/** Why an accent colour is unreadable in a scheme, or undefined when it passes AA with both. */
export function accentContrastProblem(accent: string, scheme: keyof typeof ACCENT_SURROUNDINGS): string | undefined {
  const { onAccent, card } = ACCENT_SURROUNDINGS[scheme];
  const onButton = contrastRatio(accent, onAccent);
  if (onButton < AA_CONTRAST) return `button text ${onAccent} on ${accent} has a contrast of ${onButton.toFixed(2)}:1; WCAG AA needs ${AA_CONTRAST}:1`;
  const asText = contrastRatio(accent, card);
  if (asText < AA_CONTRAST) return `${accent} as link text on the card (${card}) has a contrast of ${asText.toFixed(2)}:1; WCAG AA needs ${AA_CONTRAST}:1`;
  return undefined;
}
