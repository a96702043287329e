import type { z } from 'zod';

/** A bus command: what the caller sends and what the handler answers, both validated at each end. */
export interface CommandDef<
  Type extends string = string,
  Req extends z.ZodType = z.ZodType,
  Res extends z.ZodType = z.ZodType,
> {
  readonly type: Type;
  readonly version: number;
  readonly request: Req;
  readonly reply: Res;
}

export interface EventDef<Type extends string = string, Payload extends z.ZodType = z.ZodType> {
  readonly type: Type;
  readonly version: number;
  readonly payload: Payload;
}

export function defineCommand<Type extends string, Req extends z.ZodType, Res extends z.ZodType>(def: {
  type: Type;
  version?: number;
  request: Req;
  reply: Res;
}): CommandDef<Type, Req, Res> {
  return Object.freeze({ version: 1, ...def });
}

export function defineEvent<Type extends string, Payload extends z.ZodType>(def: {
  type: Type;
  version?: number;
  payload: Payload;
}): EventDef<Type, Payload> {
  return Object.freeze({ version: 1, ...def });
}

export type RequestOf<C extends CommandDef> = z.input<C['request']>;
export type ParsedRequestOf<C extends CommandDef> = z.output<C['request']>;
export type ReplyOf<C extends CommandDef> = z.output<C['reply']>;
export type ReplyInputOf<C extends CommandDef> = z.input<C['reply']>;
export type PayloadOf<E extends EventDef> = z.output<E['payload']>;
export type PayloadInputOf<E extends EventDef> = z.input<E['payload']>;

/** Looks a definition up by type and version; the bus uses it to validate what it receives. */
export class Catalog<D extends { type: string; version: number }> {
  readonly #defs = new Map<string, D>();

  constructor(defs: Iterable<D> = []) {
    for (const def of defs) this.add(def);
  }

  add(def: D): this {
    const key = `${def.type}@${def.version}`;
    const existing = this.#defs.get(key);
    if (existing && existing !== def) throw new Error(`${key} is defined twice`);
    this.#defs.set(key, def);
    return this;
  }

  get(type: string, version: number): D | undefined {
    return this.#defs.get(`${type}@${version}`);
  }

  hasType(type: string): boolean {
    for (const def of this.#defs.values()) if (def.type === type) return true;
    return false;
  }

  [Symbol.iterator](): IterableIterator<D> {
    return this.#defs.values();
  }
}
