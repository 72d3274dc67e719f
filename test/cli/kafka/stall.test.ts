/**
 * The stall watch's rule on its own, with a probe the test controls: records behind and no batch started or ended
 * for the bound, the member in its group.
 */
import { BehindPartition, StallProbe, StallWatch } from '../../../cli/kafka/stall';
import { waitFor } from '../support';

const BOUND_MS = 300;
const BEHIND: BehindPartition[] = [{ topic: 't', partition: 0, nextOffset: 5, highWatermark: 10 }];

function watch(state: { behind: BehindPartition[]; inGroup: boolean }) {
  const stalls: { at: number; behind: BehindPartition[] }[] = [];
  const probe: StallProbe = { behind: async () => state.behind, inGroup: async () => state.inGroup };
  const w = new StallWatch({ boundMs: BOUND_MS, probe, onStall: async (behind) => void stalls.push({ at: Date.now(), behind }) });
  w.start();
  return { w, stalls };
}
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('StallWatch', () => {
  const started: StallWatch[] = [];
  afterEach(() => started.splice(0).forEach((w) => w.stop()));

  test('records behind with no batch for the bound, member in the group: one stall, after the bound', async () => {
    // GIVEN a watch whose probe reports records behind and the member in its group
    const t0 = Date.now();
    const { w, stalls } = watch({ behind: BEHIND, inGroup: true });
    started.push(w);
    // WHEN no batch starts
    await waitFor('a stall', () => stalls.length > 0, 5000);
    // THEN it is reported with the partitions, not before the bound
    expect(stalls[0].behind).toEqual(BEHIND);
    expect(stalls[0].at - t0).toBeGreaterThanOrEqual(BOUND_MS);
  });

  test('a batch in progress longer than the bound is not a stall', async () => {
    // GIVEN records behind and a batch that has started
    const { w, stalls } = watch({ behind: BEHIND, inGroup: true });
    started.push(w);
    w.batchStarted();
    // WHEN the batch takes four bounds
    await pause(BOUND_MS * 4);
    // THEN nothing is reported, and the clock starts only when it ends
    expect(stalls).toEqual([]);
    const ended = Date.now();
    w.batchEnded();
    await waitFor('a stall', () => stalls.length > 0, 5000);
    expect(stalls[0].at - ended).toBeGreaterThanOrEqual(BOUND_MS);
  });

  test.each([
    ['nothing is behind', { behind: [], inGroup: true }],
    ['the member is no longer in its group', { behind: BEHIND, inGroup: false }],
  ])('no stall when %s', async (_, state) => {
    const { w, stalls } = watch(state);
    started.push(w);
    await pause(BOUND_MS * 4);
    expect(stalls).toEqual([]);
  });

  test('a restart that does not help doubles the bound before the next one; a batch started resets it', async () => {
    // GIVEN records that stay behind
    const { w, stalls } = watch({ behind: BEHIND, inGroup: true });
    started.push(w);
    // WHEN two stalls come with no batch in between
    await waitFor('two stalls', () => stalls.length >= 2, 5000);
    // THEN the second waited at least twice the bound after the first
    expect(stalls[1].at - stalls[0].at).toBeGreaterThanOrEqual(2 * BOUND_MS);
    // AND after a batch, the bound is the configured one again
    w.batchStarted();
    w.batchEnded();
    const after = Date.now();
    await waitFor('a third stall', () => stalls.length >= 3, 5000);
    expect(stalls[2].at - after).toBeLessThan(2 * BOUND_MS + 500);
  });
});
