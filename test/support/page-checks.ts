/**
 * What the page tests check in Chromium on every page they open: WCAG AA contrast of each visible
 * text against what it is drawn on, and that nothing overflows the card or the window.
 */
import type { Page } from 'playwright-core';

/** A text that fails WCAG AA: what it says, its colours and their contrast. */
export interface LowContrast { text: string; ratio: number; color: string; background: string; element: string }

/**
 * Every visible text of the page (an element's own text, an input's value) against the colour
 * it is drawn on: the first background that is not transparent walking up the ancestors, with
 * translucent ones blended over what lies under them. AA: 4.5:1, 3:1 for large text.
 */
export function lowContrastTexts(page: Page): Promise<LowContrast[]> {
  return page.evaluate(() => {
    const parse = (css: string): number[] => {
      const m = /rgba?\(([^)]+)\)/.exec(css);
      if (!m) return [0, 0, 0, 0];
      const parts = m[1].split(/[\s,/]+/).filter(Boolean).map(Number);
      return [parts[0], parts[1], parts[2], parts.length > 3 ? parts[3] : 1];
    };
    const over = (top: number[], under: number[]): number[] => {
      const a = top[3];
      return [0, 1, 2].map((i) => top[i] * a + under[i] * (1 - a)).concat([1]);
    };
    const backgroundOf = (element: Element): number[] => {
      const layers: number[][] = [];
      for (let e: Element | null = element; e; e = e.parentElement) {
        const bg = parse(getComputedStyle(e).backgroundColor);
        if (bg[3] > 0) layers.push(bg);
        if (bg[3] >= 1) break;
      }
      let color = layers.length && layers[layers.length - 1][3] >= 1 ? layers.pop()! : [255, 255, 255, 1];
      while (layers.length) color = over(layers.pop()!, color);
      return color;
    };
    const luminance = (c: number[]) => {
      const [r, g, b] = c.slice(0, 3).map((v) => {
        const s = v / 255;
        return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
      });
      return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    const contrast = (a: number[], b: number[]) => {
      const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
      return (hi + 0.05) / (lo + 0.05);
    };
    const visible = (e: Element) => {
      const style = getComputedStyle(e);
      if (style.visibility !== 'visible' || Number(style.opacity) === 0) return false;
      const rect = e.getBoundingClientRect();
      // Screen-reader-only text (clipped to a pixel) is not drawn.
      return rect.width > 2 && rect.height > 2 && (e as HTMLElement).offsetParent !== null;
    };
    const found: { text: string; ratio: number; color: string; background: string; element: string }[] = [];
    for (const e of Array.from(document.querySelectorAll('body *'))) {
      const field = e instanceof HTMLInputElement && !['hidden', 'checkbox', 'radio'].includes(e.type) ? e.value : '';
      const own = Array.from(e.childNodes).filter((n) => n.nodeType === Node.TEXT_NODE).map((n) => n.textContent ?? '').join('').trim();
      const text = field || own;
      if (!text || !visible(e)) continue;
      const style = getComputedStyle(e);
      const background = backgroundOf(e);
      const color = over(parse(style.color), background);
      const size = parseFloat(style.fontSize);
      const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
      const ratio = contrast(color, background);
      if (ratio < (large ? 3 : 4.5)) {
        found.push({ text: text.slice(0, 60), ratio: Math.round(ratio * 100) / 100, color: style.color, background: `rgb(${background.slice(0, 3).map(Math.round).join(', ')})`, element: `${e.tagName.toLowerCase()}${e.id ? `#${e.id}` : ''}` });
      }
    }
    return found;
  });
}

/** An element drawn past the right edge of the card it is in, or of the window. */
export interface Overflow { element: string; text: string; right: number; limit: number }

/**
 * Everything visible inside the card stays inside it (a long word in a translation must wrap, not
 * stick out), and the page needs no horizontal scrolling.
 */
export function overflowingElements(page: Page): Promise<Overflow[]> {
  return page.evaluate(() => {
    const found: { element: string; text: string; right: number; limit: number }[] = [];
    const card = document.querySelector('#main');
    const limit = Math.min(card ? card.getBoundingClientRect().right : Infinity, document.documentElement.clientWidth);
    if (document.documentElement.scrollWidth > document.documentElement.clientWidth + 1) {
      found.push({ element: 'html', text: '', right: document.documentElement.scrollWidth, limit: document.documentElement.clientWidth });
    }
    for (const e of Array.from(document.querySelectorAll('#main *'))) {
      const rect = e.getBoundingClientRect();
      const style = getComputedStyle(e);
      if (rect.width <= 2 || rect.height <= 2 || style.visibility !== 'visible' || (e as HTMLElement).offsetParent === null) continue;
      const own = (e as HTMLElement).scrollWidth > (e as HTMLElement).clientWidth + 1 && style.overflowX !== 'visible' && (e as HTMLElement).clientWidth > 0;
      if (rect.right > limit + 1 || own) {
        found.push({ element: `${e.tagName.toLowerCase()}${e.id ? `#${e.id}` : ''}`, text: (e.textContent ?? '').trim().slice(0, 60), right: Math.round(rect.right), limit: Math.round(limit) });
      }
    }
    return found;
  });
}
