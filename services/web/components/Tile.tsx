'use client';

import { useEffect, useRef } from 'react';

export interface TileProps {
  participantId: string;
  name: string;
  stream: MediaStream | undefined;
  local: boolean;
  speaking: boolean;
  audioMuted: boolean;
  videoMuted: boolean;
  connected: boolean;
  /** A screen share rather than the participant's camera. */
  screen?: boolean;
}

/**
 * One participant. The stream is the SDK's stable per-participant stream: it is attached once and
 * keeps playing while the SDK swaps tracks inside it on a P2P↔SFU switch.
 */
export function Tile(props: TileProps) {
  const video = useRef<HTMLVideoElement>(null);
  useEffect(() => {
    const element = video.current;
    if (!element || element.srcObject === (props.stream ?? null)) return;
    element.srcObject = props.stream ?? null;
  }, [props.stream]);
  return (
    <figure
      className={`tile${props.speaking ? ' speaking' : ''}${props.screen ? ' screen' : ''}`}
      data-testid="tile"
      data-participant={props.participantId}
      data-speaking={props.speaking ? 'true' : 'false'}
      data-audio-muted={props.audioMuted ? 'true' : 'false'}
      data-video-muted={props.videoMuted ? 'true' : 'false'}
      data-local={props.local ? 'true' : 'false'}
      data-screen={props.screen ? 'true' : 'false'}
    >
      <video
        ref={video}
        autoPlay
        playsInline
        muted={props.local || props.screen}
        className={props.videoMuted && !props.screen ? 'off' : ''}
      />
      {props.videoMuted && !props.screen ? <div className="avatar">{initials(props.name)}</div> : null}
      <figcaption>
        <span className="name">
          {props.name}
          {props.local ? ' (you)' : ''}
          {props.screen ? ' — screen' : ''}
        </span>
        {props.audioMuted ? (
          <span className="badge muted" title="Microphone muted" data-testid="muted-badge">
            mic off
          </span>
        ) : null}
        {props.connected ? null : <span className="badge warn">reconnecting</span>}
      </figcaption>
    </figure>
  );
}

function initials(name: string): string {
  return name
    .split(/\s+/)
    .filter(Boolean)
    .slice(0, 2)
    .map((w) => w[0]?.toUpperCase())
    .join('');
}
