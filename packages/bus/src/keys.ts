/**
 * Redis key names of the bus. Braces are Redis Cluster hash tags: the keys one operation touches
 * together (a command's dedup marker and cached reply) hash to one slot, and different targets and
 * rooms spread over the cluster.
 */
export class BusKeys {
  constructor(readonly prefix = 'trellis:') {}

  commandStream(target: string): string {
    return `${this.prefix}cmd:{${target}}`;
  }

  replyStream(clientId: string): string {
    return `${this.prefix}reply:{${clientId}}`;
  }

  isReplyStream(key: string): boolean {
    return key.startsWith(`${this.prefix}reply:{`) && key.endsWith('}');
  }

  commandSeen(commandId: string): string {
    return `${this.prefix}cmd-seen:{${commandId}}`;
  }

  commandReply(commandId: string): string {
    return `${this.prefix}cmd-reply:{${commandId}}`;
  }

  eventStream(subject: string): string {
    return `${this.prefix}events:{${subject}}`;
  }

  /** The set of subjects that have an event stream, so a consumer that starts late finds them all. */
  eventSubjects(): string {
    return `${this.prefix}events:subjects`;
  }

  /** Pub/sub channel announcing a new subject stream, so consumers start reading it at once. */
  eventSubjectsChannel(): string {
    return `${this.prefix}events:new-subject`;
  }

  broadcastChannel(type: string): string {
    return `${this.prefix}bc:${type}`;
  }

  node(nodeId: string): string {
    return `${this.prefix}node:{${nodeId}}`;
  }

  /** What an SFU node hosts (room id → its peer ids), kept so that a lost node's calls can be named. */
  nodeRooms(nodeId: string): string {
    return `${this.prefix}node:{${nodeId}}:rooms`;
  }

  nodes(): string {
    return `${this.prefix}nodes`;
  }

  /** Present while a node that was declared lost is held back from new work (anti-flapping). */
  nodeHold(nodeId: string): string {
    return `${this.prefix}node:{${nodeId}}:hold`;
  }

  /** How often a node was declared lost lately: each loss doubles its next hold-back. */
  nodeLosses(nodeId: string): string {
    return `${this.prefix}node:{${nodeId}}:losses`;
  }

  /** Held by one of the processes that check which nodes' Redis connections are still open. */
  presenceLease(slot: number): string {
    return `${this.prefix}nodes:presence-lease:${slot}`;
  }

  /** The node that is a call's home (its first SFU node). */
  roomHome(roomId: string): string {
    return `${this.prefix}room:{${roomId}}:home`;
  }

  /** Every node that hosts participants of a call. Same slot as the home: one script updates both. */
  roomNodes(roomId: string): string {
    return `${this.prefix}room:{${roomId}}:nodes`;
  }

  deadLetters(): string {
    return `${this.prefix}dead-letters`;
  }
}
