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

test('writeNow() stores its record at once behind the queued ones, in one batch; its failure is the caller\'s and the queued ones go with the next batch', async () => {
  const written: number[][] = [];
  let failures = 0;
  const writer = new BatchWriter<number, string>('test', async (items) => {
    if (failures-- > 0) throw new Error('database gone for a moment');
    written.push(items.map(Number));
  }, logger, { delayMs: 60_000, prepare: String });
  writer.add(1);
  writer.add(2);
  await writer.writeNow(3);
  expect(written).toEqual([[1, 2, 3]]);

  failures = 1;
  writer.add(4);
  await expect(writer.writeNow(5)).rejects.toThrow('database gone');
  writer.add(6);
  await writer.drain();
  expect(written).toEqual([[1, 2, 3], [4, 6]]);
});
