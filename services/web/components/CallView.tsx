'use client';

import type { Api } from '@trellis/protocol';
import { useRouter } from 'next/navigation';
import { type CSSProperties, useEffect, useMemo, useRef, useState } from 'react';
import { Controls } from './Controls';
import { Tile } from './Tile';
import { type CallOptions, useCall } from './useCall';

/** Tiles per page: a 4×4 grid still shows faces on a laptop; 50 people are four pages. */
const PAGE_SIZE = 16;

const MODE_LABEL: Record<Api.CallMode, string> = {
  idle: 'Waiting for others',
  p2p: 'Peer to peer',
  migrating_to_sfu: 'Switching to server…',
  sfu: 'Via server (SFU)',
  migrating_to_p2p: 'Switching to peer to peer…',
};

/**
 * The call page: a paginated grid (the active speaker's tile is highlighted and kept on the page),
 * controls, and the mode and connection-quality indicators. Tells the SDK which tiles are visible
 * and how wide, so off-page video is paused on the SFU and each tile gets the simulcast layer that
 * fits it.
 */
export function CallView(props: CallOptions) {
  const router = useRouter();
  const state = useCall(props);
  const { call, selfId, activeSpeaker } = state;
  const [page, setPage] = useState(0);
  const grid = useRef<HTMLDivElement>(null);
  const [gridWidth, setGridWidth] = useState(1280);

  const ordered = useMemo(() => {
    const self = state.participants.find((p) => p.id === selfId);
    const others = state.participants.filter((p) => p.id !== selfId);
    return self ? [self, ...others] : others;
  }, [state.participants, selfId]);
  const pages = Math.max(1, Math.ceil(ordered.length / PAGE_SIZE));
  const currentPage = Math.min(page, pages - 1);
  const visible = ordered.slice(currentPage * PAGE_SIZE, (currentPage + 1) * PAGE_SIZE);
  // Screen shares come first, on every page: they are what people look at.
  const sharing = state.participants.filter((p) => state.screens.includes(p.id));
  const columns = Math.max(1, Math.ceil(Math.sqrt(visible.length + sharing.length)));

  useEffect(() => {
    const element = grid.current;
    if (!element) return;
    const observer = new ResizeObserver(([entry]) => {
      if (entry) setGridWidth(entry.contentRect.width);
    });
    observer.observe(element);
    return () => observer.disconnect();
  }, []);

  const visibleKey = visible.map((p) => p.id).join(',');
  useEffect(() => {
    if (!call) return;
    const width = Math.round((gridWidth / columns) * (window.devicePixelRatio || 1));
    const views: Record<string, { visible: boolean; width: number }> = {};
    for (const id of visibleKey.split(',')) if (id && id !== selfId) views[id] = { visible: true, width };
    call.setVideoViews(views);
  }, [call, visibleKey, gridWidth, columns, selfId]);

  const leave = () => {
    void call?.leave();
    for (const t of state.localStream?.getTracks() ?? []) t.stop();
    router.push('/');
  };

  const quality = state.quality?.quality;
  return (
    <main className="call" data-testid="call" data-mode={state.mode} data-status={state.status}>
      <header className="call-header">
        <h1>{props.roomId}</h1>
        <span className={`badge mode mode-${state.mode}`} data-testid="mode">
          {MODE_LABEL[state.mode]}
        </span>
        <span
          className={`badge quality quality-${quality ?? 'unknown'}`}
          data-testid="quality"
          title={
            state.quality
              ? `loss ${state.quality.lossPercent}% · rtt ${state.quality.rttMs ?? '?'} ms · ${state.quality.inboundKbps} kbps in`
              : 'measuring'
          }
        >
          {quality ?? 'measuring'}
        </span>
        <span className="count" data-testid="count">
          {ordered.length} in call
        </span>
        {state.status === 'reconnecting' ? <span className="badge warn">reconnecting…</span> : null}
      </header>
      {state.error ? (
        <p className="error" role="alert">
          {state.error}
        </p>
      ) : null}
      <div ref={grid} className="grid" data-testid="grid" style={{ '--columns': columns } as CSSProperties}>
        {sharing.map((p) => (
          <Tile
            key={`${p.id}:screen`}
            participantId={p.id}
            name={p.name}
            stream={call?.remoteScreen(p.id)}
            local={false}
            speaking={false}
            audioMuted={false}
            videoMuted={false}
            connected={p.connected}
            screen
          />
        ))}
        {visible.map((p) => (
          <Tile
            key={p.id}
            participantId={p.id}
            name={p.name}
            stream={p.id === selfId ? state.localStream : call?.remoteStream(p.id)}
            local={p.id === selfId}
            speaking={p.id === activeSpeaker}
            audioMuted={p.muted.audio}
            videoMuted={p.muted.video}
            connected={p.connected}
          />
        ))}
      </div>
      {pages > 1 ? (
        <div className="pager" data-testid="pager">
          <button type="button" disabled={currentPage === 0} onClick={() => setPage(currentPage - 1)}>
            ‹ Prev
          </button>
          <span>
            Page {currentPage + 1} / {pages}
          </span>
          <button type="button" disabled={currentPage >= pages - 1} onClick={() => setPage(currentPage + 1)}>
            Next ›
          </button>
        </div>
      ) : null}
      {call ? (
        <Controls
          call={call}
          localStream={state.localStream}
          onLocalStream={state.setLocalStream}
          onLeave={leave}
        />
      ) : null}
    </main>
  );
}
