import type { z } from 'zod';

export type HttpMethod = 'GET' | 'POST' | 'DELETE';

/**
 * What a request needs from the caller's grant. `participant` means a joined participant of the
 * token's room; `none` only a valid token for the room (joining, creating it).
 */
export type RequestAccess = 'none' | 'participant' | 'publish' | 'subscribe' | 'admin';

/**
 * One client request, served twice: as `method path` over REST (path parameters and body merge into
 * the request object) and as a Socket.IO event of the same name answered by an ack. Rate limits are
 * per participant for the request's bucket, so a burst on one endpoint leaves the others usable.
 */
export interface RequestDef<
  Name extends string = string,
  Req extends z.ZodType = z.ZodType,
  Res extends z.ZodType = z.ZodType,
> {
  readonly name: Name;
  readonly summary: string;
  readonly http: { readonly method: HttpMethod; readonly path: string };
  readonly access: RequestAccess;
  readonly rateLimit: { readonly points: number; readonly perSeconds: number };
  readonly request: Req;
  readonly reply: Res;
}

export function defineRequest<Name extends string, Req extends z.ZodType, Res extends z.ZodType>(
  def: RequestDef<Name, Req, Res>,
): RequestDef<Name, Req, Res> {
  return Object.freeze(def);
}

export type ApiRequestOf<D extends RequestDef> = z.input<D['request']>;
export type ApiParsedRequestOf<D extends RequestDef> = z.output<D['request']>;
export type ApiReplyOf<D extends RequestDef> = z.output<D['reply']>;
export type ApiReplyInputOf<D extends RequestDef> = z.input<D['reply']>;

/** Path parameters named in `/v1/rooms/{roomId}/...`, in order. */
export function pathParams(path: string): string[] {
  return [...path.matchAll(/\{([A-Za-z]+)\}/g)].map((m) => m[1] as string);
}
