import { BatchWriter } from '../../../src/store/index.ts';
import { createLogger } from '../../../src/observability/index.ts';

const logger = createLogger('silent');

test('drain() writes what is pending, and tries a failed batch once more since no next batch will carry it', async () => {
  const written: number[][] = [];
  let failures = 1;
  const writer = new BatchWriter<number>('test', async (items) => {
    if (failures-- > 0) throw new Error('database gone for a moment');
    written.push(items);
  }, logger, { delayMs: 60_000 });
  writer.add(1);
  writer.add(2);
  await writer.drain();
  expect(written).toEqual([[1, 2]]);
});

test('drain() gives up after the second failure instead of waiting for the database', async () => {
  let attempts = 0;
  const writer = new BatchWriter<number>('test', async () => {
    attempts++;
    throw new Error('database gone');
  }, logger, { delayMs: 60_000 });
  writer.add(1);
  await writer.drain();
  expect(attempts).toBe(2);
});
