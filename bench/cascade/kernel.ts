// Where packets were dropped, from the kernel's own counters: machine-wide UDP/ICMP counters
// (/proc/net/snmp) and per-socket drop counts (/proc/net/udp), grouped by what the socket is.
import { readFileSync } from 'node:fs';

/** The sfu's default pipe port range (SFU_PIPE_PORT_MIN/MAX; spawnSfu leaves it). */
export const PIPE_PORTS = { min: 21000, max: 21999 };

const COUNTERS = [
  ['icmp_port_unreachable_sent', 'Icmp', 'OutDestUnreachs'],
  ['udp_to_unbound_port', 'Udp', 'NoPorts'],
  ['udp_dropped_socket_buffer_full', 'Udp', 'RcvbufErrors'],
] as const;

/** Machine-wide counters (cumulative since boot). */
export function kernelCounters(): Record<string, number> {
  const lines = readFileSync('/proc/net/snmp', 'utf8').split('\n');
  const read = (group: string, name: string) => {
    const [head, values] = lines.filter((l) => l.startsWith(`${group}:`)).map((l) => l.split(/\s+/));
    return Number(values?.[head?.indexOf(name) ?? -1] ?? Number.NaN);
  };
  return Object.fromEntries(COUNTERS.map(([key, group, name]) => [key, read(group, name)]));
}

export interface SocketGroups {
  /** Ports of the probes' receiving sockets (this process). */
  probePorts: ReadonlySet<number>;
  /** The unread sink's port (an unbound sink holds no socket: its drops are Udp NoPorts). */
  sinkPort: number;
}

export interface UdpSnapshot {
  /** Cumulative drops per socket (by inode, so a reused port is not confused). */
  drops: Map<string, { group: string; drops: number }>;
  /** Receive queue bytes per group, at the moment of the snapshot: the largest socket's. */
  maxQueueBytes: Record<string, number>;
}

function groupOf(port: number, groups: SocketGroups): string {
  if (port >= PIPE_PORTS.min && port <= PIPE_PORTS.max) return 'sfu_pipe_transports';
  if (groups.probePorts.has(port)) return 'probe_receivers';
  if (port === groups.sinkPort) return 'sink';
  return 'other_udp_sockets';
}

/** 127.0.0.1 UDP sockets: drops and queue per socket from /proc/net/udp. */
export function udpSnapshot(groups: SocketGroups): UdpSnapshot {
  const drops = new Map<string, { group: string; drops: number }>();
  const maxQueueBytes: Record<string, number> = {};
  for (const line of readFileSync('/proc/net/udp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 13 || !f[1]?.startsWith('0100007F:')) continue;
    const port = Number.parseInt(f[1].slice(9), 16);
    const rxQueue = Number.parseInt(f[4]?.split(':')[1] ?? '0', 16);
    const group = groupOf(port, groups);
    drops.set(`${f[9]}`, { group, drops: Number(f.at(-1)) });
    maxQueueBytes[group] = Math.max(maxQueueBytes[group] ?? 0, rxQueue);
  }
  return { drops, maxQueueBytes };
}

/** Datagrams dropped at full receive buffers between two snapshots, per group of sockets. */
export function dropsBetween(a: UdpSnapshot, b: UdpSnapshot): Record<string, number> {
  const out: Record<string, number> = {
    sfu_pipe_transports: 0,
    probe_receivers: 0,
    other_udp_sockets: 0,
    sink: 0,
  };
  for (const [inode, { group, drops }] of b.drops) {
    out[group] = (out[group] ?? 0) + drops - (a.drops.get(inode)?.drops ?? 0);
  }
  return out;
}
