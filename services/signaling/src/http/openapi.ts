import { Api, ErrorBody, type ErrorCode, errorStatus } from '@trellis/protocol';
import { z } from 'zod';
import {
  createDocument,
  type ZodOpenApiOperationObject,
  type ZodOpenApiPathsObject,
  type ZodOpenApiResponseObject,
  type ZodOpenApiResponsesObject,
} from 'zod-openapi';

export type OpenApiDocument = ReturnType<typeof createDocument>;

export interface OpenApiInfo {
  version: string;
  serverUrl?: string;
}

/**
 * Statuses every request can answer besides 200, each listing the codes it carries. One object per
 * status, shared by every operation: zod-openapi registers it once under its id and refers to it.
 */
const errorResponses: Record<string, ZodOpenApiResponseObject> = Object.fromEntries(
  [400, 401, 403, 404, 409, 429, 503].map((status) => [
    String(status),
    {
      id: `Error${status}`,
      description: codesFor(status).join(', '),
      content: { 'application/json': { schema: ErrorBody } },
    },
  ]),
);

const cache = new Map<string, OpenApiDocument>();

/**
 * The REST half of the API as OpenAPI 3.1, generated from the same table the gateway serves, so
 * it cannot drift from the routes. Built once per version/server pair: conversion walks every
 * schema and the document never changes while the process runs.
 */
export function openApiDocument(info: OpenApiInfo): OpenApiDocument {
  const key = `${info.version}\n${info.serverUrl ?? ''}`;
  let document = cache.get(key);
  if (document === undefined) {
    document = build(info);
    cache.set(key, document);
  }
  return document;
}

function build(info: OpenApiInfo): OpenApiDocument {
  const paths: ZodOpenApiPathsObject = {};
  for (const def of Api.apiRequests) {
    const method = def.http.method.toLowerCase() as 'get' | 'post' | 'delete';
    paths[def.http.path] = { ...paths[def.http.path], [method]: operation(def) };
  }
  return createDocument({
    openapi: '3.1.0',
    info: {
      title: 'Trellis signaling API',
      version: info.version,
      description:
        'Group video calls. Every request is also a Socket.IO event of the same name (the operationId), ' +
        'answered by an ack carrying the same reply or error body.',
    },
    ...(info.serverUrl === undefined ? {} : { servers: [{ url: info.serverUrl }] }),
    security: [{ bearerAuth: [] }],
    paths,
    components: {
      schemas: { ErrorBody },
      securitySchemes: {
        bearerAuth: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: 'A room token: HS256 with the shared secret, or RS256/ES256 from the JWKS',
        },
      },
    },
  });
}

function operation(def: Api.RequestDef): ZodOpenApiOperationObject {
  const request = def.request;
  if (!(request instanceof z.ZodObject)) {
    throw new TypeError(`Request ${def.name}: expected an object schema to split into path and body`);
  }
  const inPath = Api.pathParams(def.http.path);
  // zod types masks by literal key; these keys come from the path string, checked against the shape.
  const pathMask = Object.fromEntries(inPath.map((name) => [name, true])) as Record<never, true>;
  const missing = inPath.filter((name) => !(name in request.shape));
  if (missing.length > 0)
    throw new TypeError(`Request ${def.name}: no schema for path ${missing.join(', ')}`);
  const rest = request.omit(pathMask);
  const restShape: Record<string, z.ZodType> = rest.shape;
  const restKeys = Object.keys(restShape);
  const op: ZodOpenApiOperationObject = {
    operationId: def.name,
    summary: def.summary,
    description:
      `Access: ${def.access}. Rate limit: ${def.rateLimit.points} per ${def.rateLimit.perSeconds} s ` +
      'per participant.',
    tags: ['rooms'],
    'x-trellis-access': def.access,
    'x-trellis-rate-limit': def.rateLimit,
    requestParams: inPath.length > 0 ? { path: request.pick(pathMask) } : {},
    responses: responses(def),
  };
  if (restKeys.length > 0) {
    if (def.http.method === 'GET') {
      op.requestParams = { ...op.requestParams, query: rest };
    } else {
      const required = restKeys.some((k) => !restShape[k]!.isOptional());
      op.requestBody = { required, content: { 'application/json': { schema: rest } } };
    }
  }
  return op;
}

function responses(def: Api.RequestDef): ZodOpenApiResponsesObject {
  return {
    '200': { description: 'OK', content: { 'application/json': { schema: def.reply } } },
    ...errorResponses,
  };
}

function codesFor(status: number): ErrorCode[] {
  return (Object.entries(errorStatus) as [ErrorCode, number][])
    .filter(([, s]) => s === status)
    .map(([code]) => code);
}
