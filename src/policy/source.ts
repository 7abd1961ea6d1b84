import { Buffer } from 'node:buffer';

/** A named text (a file's content) and the translation of Cedar's offsets into lines and columns. */
export interface SourceText {
  readonly file: string;
  readonly text: string;
}

export interface Position {
  readonly line: number;
  readonly column: number;
}

/** Line and column (1-based, in characters) of a UTF-8 byte offset into `text`, the unit Cedar reports. */
export function positionAt(text: string, byteOffset: number): Position {
  const offset = Buffer.from(text, 'utf8').subarray(0, Math.max(0, byteOffset)).toString('utf8').length;
  const clamped = Math.min(offset, text.length);
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < clamped; i = text.indexOf('\n', i + 1)) {
    line += 1;
    lineStart = i + 1;
  }
  return { line, column: clamped - lineStart + 1 };
}
