import type { types } from 'mediasoup';

export interface TransportAppData extends types.AppData {
  direction: 'send' | 'recv';
}

export interface CreateTransportOptions {
  direction: 'send' | 'recv';
  preferTcp: boolean;
  enableSctp: boolean;
  appData?: Record<string, unknown>;
}

export interface ProduceOptions {
  transportId: string;
  kind: types.MediaKind;
  rtpParameters: types.RtpParameters;
  paused: boolean;
  appData?: Record<string, unknown>;
}

export interface ConsumeOptions {
  transportId: string;
  producerId: string;
  rtpCapabilities: types.RtpCapabilities;
  preferredLayers?: types.ConsumerLayers;
  /** Where the producer lives when it is not this node (the call spans nodes). */
  producerNodeId?: string;
  appData?: Record<string, unknown>;
}

export interface CreatePlainTransportOptions {
  direction: 'send' | 'recv';
  comedia: boolean;
  rtcpMux: boolean;
  enableSrtp: boolean;
  appData?: Record<string, unknown>;
}
