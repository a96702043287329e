import { describe, expect, it } from 'vitest';
import { CallDraft, emptyCall } from '../../src/call/CallDraft';
import type { CallEffect, CallState, CallTimings } from '../../src/call/CallStateTypes';
import { expireDisconnected, nextDeadline, reconcile, reportPathReady } from '../../src/call/modeMachine';

const timings: CallTimings = {
  p2pHysteresisMs: 5000,
  migrationTimeoutMs: 10_000,
  migrationRetryMs: 3000,
  resumeGraceMs: 20_000,
};

/** Drives the pure machine the way CallStore does: change, expire, reconcile, bump the version. */
class Call {
  state: CallState = emptyCall('r1', 0, 50);
  effects: CallEffect[] = [];
  #ids = 0;

  apply(now: number, change: (d: CallDraft) => void = () => undefined): this {
    const draft = new CallDraft(this.state, now);
    change(draft);
    expireDisconnected(draft, timings);
    reconcile(draft, timings, () => `t${++this.#ids}`);
    if (draft.changed) {
      draft.state.version += 1;
      this.state = draft.state;
    }
    this.effects = draft.effects;
    return this;
  }

  join(id: string, now: number): this {
    return this.apply(now, (d) =>
      d.addParticipant({
        id,
        name: id,
        sessionId: `s-${id}`,
        joinedAt: now,
        canPublish: true,
        canSubscribe: true,
        admin: false,
        connection: { nodeId: 'sig-1', socketId: `sock-${id}` },
      }),
    );
  }

  leave(id: string, now: number): this {
    return this.apply(now, (d) => d.removeParticipant(id, 'left'));
  }

  ready(id: string, path: 'sfu' | 'p2p', now: number): this {
    const t = this.state.transition;
    return this.apply(now, (d) => reportPathReady(d, id, t?.id ?? 'none', path, 120));
  }

  get modeEvents() {
    return this.effects
      .filter((e) => e.type === 'emit' && e.event === 'mode-changed')
      .map((e) => (e as { payload: { mode: string; reason: string } }).payload);
  }
}

describe('the call-mode machine', () => {
  it('goes idle → p2p → migrating_to_sfu → sfu → migrating_to_p2p → p2p with make-before-break', () => {
    const call = new Call().join('a', 0);
    expect(call.state.mode).toBe('idle');
    call.join('b', 10);
    expect(call.state.mode).toBe('p2p');
    expect(call.state.p2pOfferer).toBe('a');

    call.join('c', 20);
    expect(call.state.mode).toBe('migrating_to_sfu');
    expect(call.state.transition?.awaiting).toEqual(['a', 'b', 'c']);
    call.ready('a', 'sfu', 30).ready('b', 'sfu', 40);
    expect(call.state.mode).toBe('migrating_to_sfu');
    call.ready('c', 'sfu', 50);
    expect(call.state.mode).toBe('sfu');
    expect(call.modeEvents).toEqual([expect.objectContaining({ mode: 'sfu', reason: 'completed' })]);
    call.state.participants.a!.nodeId = 'sfu-1';
    call.state.participants.b!.nodeId = 'sfu-1';
    call.state.participants.c!.nodeId = 'sfu-1';
    call.state.producers.p1 = { id: 'p1', participantId: 'a', kind: 'video', nodeId: 'sfu-1', paused: false };

    call.leave('c', 1000);
    expect(call.state.mode).toBe('sfu');
    expect(call.state.shrunkAt).toBe(1000);
    expect(nextDeadline(call.state, timings)).toBe(6000);
    call.apply(5999);
    expect(call.state.mode).toBe('sfu');
    call.apply(6000);
    expect(call.state.mode).toBe('migrating_to_p2p');
    expect(call.modeEvents[0]).toMatchObject({ reason: 'hysteresis' });
    // The SFU path stays up until the P2P one is confirmed.
    expect(call.state.participants.a!.nodeId).toBe('sfu-1');
    call.ready('a', 'p2p', 6100).ready('b', 'p2p', 6200);
    expect(call.state.mode).toBe('p2p');
    expect(call.state.participants.a!.nodeId).toBeUndefined();
    expect(call.state.producers).toEqual({});
    const releases = call.effects.filter((e) => e.type === 'close-sfu-peer');
    expect(releases.map((e) => (e as { participantId: string }).participantId).sort()).toEqual(['a', 'b']);
  });

  it('ignores a report for another transition or the other path', () => {
    const call = new Call().join('a', 0).join('b', 0).join('c', 0);
    const before = call.state.version;
    call.apply(1, (d) => reportPathReady(d, 'a', 'stale', 'sfu', undefined));
    call.apply(1, (d) => reportPathReady(d, 'a', call.state.transition!.id, 'p2p', undefined));
    expect(call.state.version).toBe(before);
    expect(call.state.transition?.awaiting).toHaveLength(3);
  });

  it('rolls a migration back at its deadline and retries it', () => {
    const call = new Call().join('a', 0).join('b', 0).join('c', 0);
    const first = call.state.transition!;
    call.ready('a', 'sfu', 100);
    call.apply(first.deadline);
    expect(call.state.mode).toBe('p2p');
    expect(call.modeEvents[0]).toMatchObject({ mode: 'p2p', reason: 'timed-out' });
    expect(call.effects.some((e) => e.type === 'transition-ended' && e.result === 'rolled-back')).toBe(true);
    expect(nextDeadline(call.state, timings)).toBe(first.deadline + timings.migrationRetryMs);
    call.apply(first.deadline + timings.migrationRetryMs);
    expect(call.state.mode).toBe('migrating_to_sfu');
    expect(call.state.transition!.attempt).toBe(2);
    expect(call.state.transition!.id).not.toBe(first.id);
    expect(call.modeEvents[0]).toMatchObject({ reason: 'retry' });
  });

  it('aborts a move back to p2p when a third joins, and forgets a retry that lost its reason', () => {
    const call = new Call().join('a', 0).join('b', 0).join('c', 0);
    for (const id of ['a', 'b', 'c']) call.ready(id, 'sfu', 1);
    call.leave('c', 10).apply(10 + timings.p2pHysteresisMs);
    expect(call.state.mode).toBe('migrating_to_p2p');
    call.join('d', 6000);
    expect(call.state.mode).toBe('sfu');
    expect(call.modeEvents[0]).toMatchObject({ reason: 'aborted' });

    const rolled = new Call().join('a', 0).join('b', 0).join('c', 0);
    rolled.apply(rolled.state.transition!.deadline);
    expect(rolled.state.retryAt).toBeDefined();
    rolled.leave('c', rolled.state.transition?.deadline ?? 20_000);
    expect(rolled.state.retryAt).toBeUndefined();
    expect(rolled.state.mode).toBe('p2p');
  });

  it('a join during a migration rides the SFU without delaying it', () => {
    const call = new Call().join('a', 0).join('b', 0).join('c', 0);
    call.join('d', 5);
    expect(call.state.transition!.awaiting).toEqual(['a', 'b', 'c']);
    for (const id of ['a', 'b', 'c']) call.ready(id, 'sfu', 6);
    expect(call.state.mode).toBe('sfu');
  });

  it('a leave during a migration stops waiting for the one who left', () => {
    const call = new Call().join('a', 0).join('b', 0).join('c', 0).join('d', 0);
    call.ready('a', 'sfu', 1).ready('b', 'sfu', 1).ready('c', 'sfu', 1);
    call.leave('d', 2);
    expect(call.state.mode).toBe('sfu');
  });

  it('removes a participant whose resume grace ran out, and an emptied SFU call goes idle', () => {
    const call = new Call().join('a', 0).join('b', 0).join('c', 0);
    for (const id of ['a', 'b', 'c']) call.ready(id, 'sfu', 1);
    call.apply(100, (d) => d.setConnection('c', undefined));
    expect(nextDeadline(call.state, timings)).toBe(100 + timings.resumeGraceMs);
    call.apply(100 + timings.resumeGraceMs);
    expect(call.state.participants.c).toBeUndefined();
    expect(call.effects).toContainEqual(
      expect.objectContaining({
        event: 'participant-left',
        payload: { participantId: 'c', reason: 'disconnected' },
      }),
    );
    call.leave('b', 30_000).apply(30_000 + timings.p2pHysteresisMs);
    expect(call.state.mode).toBe('idle');
  });

  it('an SFU call everyone left ends at once, without waiting out the hysteresis', () => {
    const call = new Call().join('a', 0).join('b', 0).join('c', 0);
    for (const id of ['a', 'b', 'c']) call.ready(id, 'sfu', 1);
    call.leave('a', 10).leave('b', 11).leave('c', 12);
    expect(call.state.mode).toBe('idle');
    expect(nextDeadline(call.state, timings)).toBeUndefined();
  });
});
