import { randomUUID } from 'node:crypto';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdapter } from '@socket.io/redis-adapter';
import {
  createNodeSelector,
  duplicateConnection,
  NodeHeartbeat,
  NodeLossMonitor,
  type RedisBus,
  type RedisClient,
  RoomPlacement,
  type SelectorKind,
} from '@trellis/bus';
import type { SignalingConfig } from '@trellis/config';
import { JobPublisher, observeJobPublisher } from '@trellis/jobs';
import { Api, type NodeInfo, TrellisError } from '@trellis/protocol';
import { type MetricsRegistry, metricsHandler } from '@trellis/telemetry';
import express from 'express';
import type { Logger } from 'pino';
import { Server } from 'socket.io';
import { RateLimits } from './abuse/RateLimits';
import { ApiDispatcher } from './api/ApiDispatcher';
import { ApiHandlers } from './api/ApiHandlers';
import { MediaControlHandlers } from './api/MediaControlHandlers';
import { devTokenRouter } from './auth/devTokenRoute';
import { TokenVerifier } from './auth/TokenVerifier';
import { CallCensus } from './call/CallCensus';
import { CallStore } from './call/CallStore';
import { DeadlineScheduler } from './call/DeadlineScheduler';
import { EffectRunner } from './call/EffectRunner';
import { Rehomer } from './events/Rehomer';
import { RoomEventRelay } from './events/RoomEventRelay';
import { CallHistory } from './history/CallHistory';
import { openApiDocument } from './http/openapi';
import { restRouter, sendError } from './http/restRouter';
import { SfuGateway } from './media/SfuGateway';
import { observeSignalingState, type SignalingMetrics, signalingMetrics } from './metrics';
import { ClientNotifier } from './notify/ClientNotifier';
import { LocalSessions } from './socket/LocalSessions';
import { attachSocketApi } from './socket/socketApi';
import { iceServersFor } from './turn/iceServers';

export interface SignalingNodeOptions {
  config: SignalingConfig;
  bus: RedisBus;
  logger: Logger;
  metrics: MetricsRegistry;
  selector?: SelectorKind;
  /** Heartbeat cadence: a dead node's participants start their resume grace about `ttl` after it died. */
  heartbeatMs?: number;
}

/**
 * One signaling process: REST and Socket.IO on one HTTP server, the call store and mode machine,
 * the relay of SFU room events, and the deadline poller. Holds no call state of its own — only the
 * sockets connected to it — so any number run side by side and any one may die.
 */
export class SignalingNode {
  readonly #o: SignalingNodeOptions;
  readonly http: HttpServer;
  readonly io: Server;
  readonly store: CallStore;
  readonly metrics: SignalingMetrics;
  readonly #sessions: LocalSessions;
  readonly #relay: RoomEventRelay;
  readonly #deadlines: DeadlineScheduler;
  readonly #heartbeat: NodeHeartbeat;
  readonly #lossMonitor: NodeLossMonitor;
  readonly #adapterClients: RedisClient[];
  readonly #startedAt = Date.now();
  /** The call history's way to the persister, when PERSIST_CALL_EVENTS is on. */
  #jobs: { publisher: JobPublisher; connection: RedisClient } | undefined;
  readonly #history: CallHistory;

  constructor(options: SignalingNodeOptions) {
    this.#o = options;
    const { config, bus, logger } = options;
    const redis = bus.redis;
    const log = logger.child({ component: 'signaling' });
    this.metrics = signalingMetrics(options.metrics);
    observeSignalingState(options.metrics, {
      census: new CallCensus({ redis, keyPrefix: config.redis.keyPrefix }),
      state: () => (this.#closing ? 'draining' : 'serving'),
      onError: (error) => log.warn({ err: String(error) }, 'call census failed'),
    });
    const heartbeatMs = options.heartbeatMs ?? 2000;

    const pub = duplicateConnection(redis, `${config.nodeId}:sio-pub`, log);
    const sub = duplicateConnection(redis, `${config.nodeId}:sio-sub`, log);
    this.#adapterClients = [pub, sub];
    this.http = createServer();
    this.io = new Server(this.http, {
      transports: ['websocket'],
      cors: { origin: config.corsOrigins },
      // The largest legitimate message is a P2P SDP (at most 100 kB); bigger ones close the connection.
      maxHttpBufferSize: 1024 * 1024,
      adapter: createAdapter(pub, sub, { key: `${config.redis.keyPrefix}sio` }),
    });

    this.store = new CallStore({
      redis,
      keyPrefix: config.redis.keyPrefix,
      timings: config.call,
      newId: randomUUID,
    });
    const placement = new RoomPlacement({
      redis,
      keys: bus.keys,
      registry: bus.registry,
      selector: createNodeSelector(options.selector ?? 'least-loaded'),
      maxAgeMs: 3 * heartbeatMs + 5000,
    });
    const sfu = new SfuGateway({ commands: bus.commands, placement, region: config.region, logger: log });
    const notifier = new ClientNotifier(this.io);
    this.#history = new CallHistory(
      config.databaseUrl === undefined ? {} : { databaseUrl: config.databaseUrl },
    );
    if (config.persistCallEvents) {
      const connection = duplicateConnection(redis, `${config.nodeId}:jobs`, log);
      this.#jobs = {
        publisher: new JobPublisher({ connection, keyPrefix: config.redis.keyPrefix, logger: log }),
        connection,
      };
      observeJobPublisher(this.#jobs.publisher, options.metrics);
    }
    const effects = new EffectRunner({
      notifier,
      sfu,
      logger: log,
      ...(this.#jobs ? { recorder: this.#jobs.publisher } : {}),
      observer: {
        transitionEnded: (_roomId, t, result) => {
          this.metrics.transitions.inc({ to: t.to, result });
          this.metrics.transitionSeconds.observe({ to: t.to, result }, (Date.now() - t.startedAt) / 1000);
          if (result === 'completed') {
            for (const gap of Object.values(t.gaps))
              this.metrics.switchGapSeconds.observe({ to: t.to }, gap / 1000);
          }
        },
      },
    });
    const handlers = new ApiHandlers({
      store: this.store,
      sfu,
      effects,
      nodeId: config.nodeId,
      maxParticipants: config.call.maxParticipants,
      iceServers: (identity) => iceServersFor(identity, config),
      mediaControl: new MediaControlHandlers({ store: this.store, sfu, effects, logger: log }),
      history: this.#history,
    });
    const dispatcher = new ApiDispatcher({
      handlers: handlers.table,
      rateLimits: new RateLimits({
        redis,
        keyPrefix: config.redis.keyPrefix,
        requests: Api.apiRequests,
        config: config.rateLimits,
      }),
      metrics: this.metrics,
      logger: log,
      // ioredis queues commands while it reconnects; 'ready' is the only state that runs them now.
      storeAvailable: () => redis.status === 'ready',
    });
    const verifier = new TokenVerifier(config.jwt, {
      onRejected: (code) => this.metrics.authFailures.inc({ code }),
    });
    this.#sessions = new LocalSessions({
      nodeId: config.nodeId,
      redis,
      keys: bus.keys,
      store: this.store,
      effects,
    });
    attachSocketApi({
      io: this.io,
      dispatcher,
      verifier,
      sessions: this.#sessions,
      metrics: this.metrics,
      logger: log,
    });

    const app = express();
    app.disable('x-powered-by');
    app.set('trust proxy', 'loopback');
    app.use((req, res, next) => {
      const origin = req.get('origin');
      if (origin && (config.corsOrigins.includes('*') || config.corsOrigins.includes(origin))) {
        res.set('Access-Control-Allow-Origin', origin);
        res.set('Access-Control-Allow-Headers', 'authorization, content-type, x-request-id');
        res.set('Access-Control-Allow-Methods', 'GET, POST, DELETE');
      }
      if (req.method === 'OPTIONS') res.status(204).end();
      else next();
    });
    app.get('/healthz', (_req, res) => {
      res.status(this.#closing ? 503 : 200).json({ ok: !this.#closing, nodeId: config.nodeId });
    });
    app.get('/metrics', metricsHandler(options.metrics.registry));
    const openapi = openApiDocument({ version: '0.1.0' });
    app.get('/openapi.json', (_req, res) => {
      res.json(openapi);
    });
    if (config.devTokenRoute) {
      log.warn('development token route enabled: anyone can mint a token (POST /dev/token)');
      app.use(devTokenRouter(config));
    }
    app.use(restRouter({ dispatcher, verifier }));
    // Whatever no route took, and whatever Express itself refused (a malformed %-escape in a path),
    // still answers in the API's error vocabulary rather than an HTML page.
    app.use((req, res) => {
      sendError(res, new TrellisError('UNKNOWN_COMMAND', `no route ${req.method} ${req.path.slice(0, 200)}`));
    });
    app.use((error: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      const status = (error as { status?: unknown }).status;
      const client = typeof status === 'number' && status >= 400 && status < 500;
      sendError(
        res,
        client
          ? new TrellisError('VALIDATION_FAILED', String((error as Error).message))
          : TrellisError.from(error),
      );
    });
    this.http.on('request', app);

    this.#relay = new RoomEventRelay({
      source: bus.consumeEvents('signaling'),
      broadcast: bus.broadcast,
      store: this.store,
      effects,
      notifier,
      rehomer: new Rehomer({ store: this.store, sfu, effects, metrics: this.metrics, logger: log }),
      logger: log,
    });
    this.#deadlines = new DeadlineScheduler({ store: this.store, effects, logger: log });
    this.#heartbeat = new NodeHeartbeat({
      registry: bus.registry,
      describe: async () => {
        await this.#sessions.publish();
        return this.describe();
      },
      intervalMs: heartbeatMs,
      ttlMs: heartbeatMs * 3,
      logger: log,
    });
    this.#lossMonitor = new NodeLossMonitor({
      nodeId: options.config.nodeId,
      registry: bus.registry,
      redis,
      keys: bus.keys,
      broadcast: bus.broadcast,
      // SFU entries expire on their own (shorter) TTL: sweep often enough not to add much to it.
      intervalMs: Math.min(heartbeatMs, 500),
      presence: { graceMs: options.config.nodeLossGraceMs },
      logger: log,
    });
  }

  #closing = false;

  describe(): NodeInfo {
    const { config } = this.#o;
    return {
      nodeId: config.nodeId,
      kind: 'signaling',
      region: config.region,
      state: this.#closing ? 'draining' : 'serving',
      startedAt: this.#startedAt,
      updatedAt: Date.now(),
      rtc: [],
      workers: [],
      maxConsumersPerWorker: 1,
    };
  }

  /** Starts serving; resolves with the address REST and Socket.IO listen on. */
  async start(): Promise<AddressInfo> {
    const { config } = this.#o;
    await this.#relay.start();
    this.#deadlines.start();
    await this.#heartbeat.start();
    this.#lossMonitor.start();
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(config.http.port, config.http.host, () => {
        this.http.off('error', reject);
        resolve();
      });
    });
    const address = this.http.address() as AddressInfo;
    this.#o.logger.info({ address: `http://${address.address}:${address.port}` }, 'signaling node serving');
    return address;
  }

  /**
   * Stops: sockets are closed (their clients reconnect to another node and resume), timers stop,
   * the registry entry goes. Call state stays in Redis for the other nodes.
   */
  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    // Its clients reconnect to other nodes and resume; until they do, their grace runs. The
    // disconnects are recorded (and told to the rooms) before the connections they need go.
    this.io.local.disconnectSockets(true);
    this.io.engine.close();
    await this.#sessions.settled();
    await this.#lossMonitor.stop();
    await this.#deadlines.stop();
    await this.#relay.close();
    await this.#heartbeat.stop();
    await this.#sessions.clear().catch(() => undefined);
    await this.#jobs?.publisher.close();
    this.#jobs?.connection.disconnect();
    await this.#history.close();
    // Not io.close(): its adapter close fires UNSUBSCRIBEs without awaiting them, and they fail as
    // unhandled rejections once the connections go. Dropping the connections ends the
    // subscriptions just as well, with nothing left in flight.
    for (const client of this.#adapterClients) client.disconnect();
    // The HTTP server's close waits for every keep-alive connection (a REST client's pool): idle
    // ones go now, and whatever is still open after 2 s is cut.
    const cut = setTimeout(() => this.http.closeAllConnections(), 2000);
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
    clearTimeout(cut);
  }
}
