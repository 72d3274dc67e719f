import { forEachLimit } from '../../runtime/concurrency';

describe('forEachLimit', () => {
  test.each([1, 3, 10])('keeps at most %i calls in flight and visits every item once, in order of start', async (limit) => {
    // GIVEN 8 items whose work takes a few ms each
    let inFlight = 0;
    let peak = 0;
    const started: number[] = [];
    // WHEN run with the bound
    await forEachLimit([0, 1, 2, 3, 4, 5, 6, 7], limit, async (i) => {
      started.push(i);
      peak = Math.max(peak, ++inFlight);
      await new Promise((r) => setTimeout(r, 2 + (i % 3)));
      inFlight--;
    });
    // THEN the peak never exceeds the bound (nor the item count) and each item ran once
    expect(peak).toBe(Math.min(limit, 8));
    expect(started).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  test('an empty list resolves at once', async () => {
    await expect(
      forEachLimit([], 4, async () => {
        throw new Error('not called');
      }),
    ).resolves.toBeUndefined();
  });

  test('fails with the first error only once the calls in flight have settled, and starts no further item', async () => {
    // GIVEN 6 items, the first failing at once while the second is still in flight
    const started: number[] = [];
    const settled: number[] = [];
    // WHEN run two at a time
    const run = forEachLimit([0, 1, 2, 3, 4, 5], 2, async (i) => {
      started.push(i);
      if (i === 0) throw new Error('first');
      await new Promise((r) => setTimeout(r, 20));
      settled.push(i);
    });
    // THEN it rejects with that error after item 1 settled, and items 2..5 never started
    await expect(run).rejects.toThrow('first');
    expect(settled).toEqual([1]);
    expect(started).toEqual([0, 1]);
  });
});
