import { PendingWrites } from '../../../src/lifecycle/index.ts';

test('settled() waits for every tracked write, failed ones included; a failure stays the caller\'s', async () => {
  const pending = new PendingWrites();
  const finished: string[] = [];
  const slow = new Promise<void>((resolve) => setTimeout(() => { finished.push('slow'); resolve(); }, 100));
  const failing = new Promise<void>((_, reject) => setTimeout(() => { finished.push('failing'); reject(new Error('database gone')); }, 50));
  expect(pending.track(slow)).toBe(slow);
  const caught = pending.track(failing).catch((err: Error) => err.message);
  await pending.settled();
  expect(finished.sort()).toEqual(['failing', 'slow']);
  expect(await caught).toBe('database gone');
  await pending.settled();
});
