export { loadConfig, ConfigError, type Config, type StorageMode } from './load.ts';
export { ACR, ACR_VALUES, acrLevel, type AcrValue } from './acr.ts';
export { accentContrastProblem, ACCENT_SURROUNDINGS, contrastRatio, AA_CONTRAST } from './colour.ts';
export { readSettingFile } from './json-file.ts';
