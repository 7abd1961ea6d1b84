export { DEFAULT_BRAND, loadBrand, MAX_LOGO_BYTES, type Brand, type Logo } from './brand.ts';
