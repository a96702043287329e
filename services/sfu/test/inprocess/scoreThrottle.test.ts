import { describe, expect, it } from 'vitest';
import { ScoreThrottle } from '../../src/RoomEventPublisher';

describe('consumer score throttling', () => {
  it('publishes the first score, big moves at once, and small moves at most every interval', () => {
    let now = 0;
    const throttle = new ScoreThrottle(2000, 3, () => now);
    expect(throttle.shouldPublish('c', 10)).toBe(true);
    now = 100;
    expect(throttle.shouldPublish('c', 9)).toBe(false); // small and soon
    expect(throttle.shouldPublish('c', 6)).toBe(true); // a drop of 4: at once
    now = 1000;
    expect(throttle.shouldPublish('c', 7)).toBe(false);
    now = 2200;
    expect(throttle.shouldPublish('c', 7)).toBe(true); // changed, interval passed
    now = 9000;
    expect(throttle.shouldPublish('c', 7)).toBe(false); // unchanged: nothing to say
    throttle.forget('c');
    expect(throttle.shouldPublish('c', 7)).toBe(true);
  });
});
